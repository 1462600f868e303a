package keywardtest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/keyward/keyward/keywardtest"
)

// A client that holds a DPoP-bound token sends it through a DPoPTransport,
// which signs a fresh proof for each request. The token's cnf.jkt is the
// key's Thumbprint: iss.Token(…, jwt.MapClaims{"cnf": map[string]any{"jkt":
// key.Thumbprint()}}) mints one.
func ExampleDPoPTransport() {
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		panic(err)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		fmt.Fprintf(w, "%s token, %d proof(s)", scheme, len(r.Header.Values("DPoP")))
	}))
	defer api.Close()

	client := &http.Client{Transport: &keywardtest.DPoPTransport{Key: key}}
	req, err := http.NewRequest("GET", api.URL+"/bookings", nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer a-dpop-bound-token") // sent as DPoP
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: DPoP token, 1 proof(s)
}
