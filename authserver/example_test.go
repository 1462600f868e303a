package authserver_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/clients"
)

func ExampleNew() {
	registry, err := clients.Open("../testdata/clients/clients.yaml", clients.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// The issuer is the server's own URL, known once it listens.
	hs := httptest.NewUnstartedServer(nil)
	srv, err := authserver.New(authserver.Config{
		Issuer:   "http://" + hs.Listener.Addr().String(),
		Audience: "bookings-api",
		Clients:  registry,
	})
	if err != nil {
		log.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	defer hs.Close()

	// A client credentials grant in the style of seed 001: HTTP Basic and a
	// form body. (An id or secret with characters such as ':', '%' or '+'
	// must be url.QueryEscape'd before SetBasicAuth, RFC 6749 §2.3.1.)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"bookings:read"}}
	req, err := http.NewRequest(http.MethodPost, hs.URL+authserver.PathTokenV2, strings.NewReader(form.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("globex", "globex-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var token struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&token); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
	fmt.Println(token.TokenType, token.ExpiresIn, token.Scope)
	fmt.Println(strings.Count(token.AccessToken, "."), "dots: a JWS")
	// Output:
	// 200 OK
	// Bearer 3600 bookings:read
	// 2 dots: a JWS
}
