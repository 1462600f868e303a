package keywardtest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/dpop"
	"github.com/keyward/keyward/keywardtest"
)

// dpopServer is a resource server on loopback that checks DPoP proofs with
// a real dpop.Checker, requiring the nonce "n-1" when nonce is set (and
// answering use_dpop_nonce with it), and answers 200 with the request body
// when the proof passes. hits counts its requests.
type dpopServer struct {
	*httptest.Server
	hits atomic.Int32
}

func startDPoPServer(t *testing.T, key *keywardtest.DPoPKey, nonce func(string) bool) *dpopServer {
	t.Helper()
	checker, err := dpop.New(dpop.Options{Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	s := &dpopServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if scheme != "DPoP" || token == "" {
			http.Error(w, "want Authorization: DPoP", http.StatusUnauthorized)
			return
		}
		_, err := checker.Check(r.Context(), dpop.Request{Proofs: r.Header.Values("DPoP"), Method: r.Method,
			URI: "http://" + r.Host + r.URL.Path, AccessToken: token, BoundTo: key.Thumbprint()})
		if err != nil {
			e := err.(*dpop.Error)
			if e.Code == dpop.CodeUseNonce {
				w.Header().Set("DPoP-Nonce", "n-1")
			}
			w.Header().Set("WWW-Authenticate", `DPoP algs="`+checker.Algorithms()+`", error="`+e.Code+`"`)
			http.Error(w, e.Description, e.Status)
			return
		}
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestDPoPProof checks that a proof from Proof passes a dpop.Checker for
// its request and key, and that the key's Thumbprint is the proof's.
func TestDPoPProof(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "PS256"} {
		key, err := keywardtest.NewDPoPKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		checker, err := dpop.New(dpop.Options{})
		if err != nil {
			t.Fatal(err)
		}
		proof, err := key.Proof("PUT", "https://api.example.com/a?b=c", "tok", nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := checker.Check(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "PUT",
			URI: "https://api.example.com/a", AccessToken: "tok", BoundTo: key.Thumbprint()})
		if err != nil || got.Thumbprint != key.Thumbprint() {
			t.Fatalf("%s: Check = %+v, %v", alg, got, err)
		}
		// ProofOptions reach the proof: a jti reused is a replay, an old
		// iat is refused.
		again, err := key.Proof("PUT", "https://api.example.com/a", "tok", &keywardtest.ProofOptions{IssuedAt: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := checker.Check(context.Background(), dpop.Request{Proofs: []string{again}, Method: "PUT",
			URI: "https://api.example.com/a", AccessToken: "tok"}); err == nil {
			t.Fatalf("%s: a proof issued an hour ago passed", alg)
		}
	}
	if _, err := keywardtest.NewDPoPKey("HS256"); err == nil {
		t.Fatal("NewDPoPKey(HS256) succeeded")
	}
}

// TestDPoPTransport checks the transport against a real server requiring
// nonces: the first request is refused use_dpop_nonce and sent once more
// with the nonce (its body too), later ones carry the nonce at once, a
// Bearer token is sent as DPoP, and a server that keeps refusing gets one
// retry only.
func TestDPoPTransport(t *testing.T) {
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	srv := startDPoPServer(t, key, func(n string) bool { return n == "n-1" })
	client := &http.Client{Transport: &keywardtest.DPoPTransport{Key: key}}
	post := func(scheme, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/bookings?page=1", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", scheme+" the-token")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	if status, body := post("DPoP", "first"); status != http.StatusOK || body != "first" {
		t.Fatalf("first request: %d %q", status, body)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("the server saw %d requests, want 2 (refused for the nonce, then sent again)", n)
	}
	if status, body := post("Bearer", "second"); status != http.StatusOK || body != "second" {
		t.Fatalf("second request: %d %q", status, body)
	}
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("the server saw %d requests, want 3 (the nonce kept)", n)
	}

	stubborn := startDPoPServer(t, key, func(string) bool { return false })
	client.Transport = &keywardtest.DPoPTransport{Key: key}
	srv = stubborn
	if status, _ := post("DPoP", "x"); status != http.StatusUnauthorized {
		t.Fatalf("a server refusing every nonce: %d, want 401", status)
	}
	if n := stubborn.hits.Load(); n != 2 {
		t.Fatalf("the stubborn server saw %d requests, want 2 (one retry)", n)
	}
}
