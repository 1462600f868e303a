package jwtverify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyward/keyward/jwks"
)

// TestKeyLookupByHeader: the key is looked up by the header's alg and kid
// through jwks.KeyLookup, and a kid that is not a string goes to the set's
// Keyfunc, which judges it as before: a Remote refuses it, a Static (which
// ignores kids) does not.
func TestKeyLookupByHeader(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}]}`, base64.RawURLEncoding.EncodeToString(pub))
	}))
	defer srv.Close()
	remote, err := jwks.NewRemote(context.Background(), srv.URL, jwks.Options{UnknownKIDWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	static, err := jwks.NewStatic("static", pub)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	sign := func(header string) string {
		b64 := base64.RawURLEncoding
		input := b64.EncodeToString([]byte(header)) + "." +
			b64.EncodeToString([]byte(`{"iss":"https://issuer.example","aud":"api","exp":1700000600,"sub":"u"}`))
		return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
	}
	tests := []struct {
		header       string
		remote, stat string // the refusal, or "" for accepted
	}{
		{`{"alg":"EdDSA","kid":"k1"}`, "", ""},
		{`{"alg":"EdDSA"}`, "", ""},
		{`{"alg":"EdDSA","kid":""}`, "", ""},
		{`{"alg":"EdDSA","kid":"k\u0031"}`, "", ""},
		{`{"alg":"EdDSA","kid":"other"}`, "the access token is signed with an unknown key", ""},
		{`{"alg":"EdDSA","kid":"other","kid":"k1"}`, "", ""},
		{`{"alg":"EdDSA","kid":7}`, "the access token is malformed", ""},
		{`{"alg":"EdDSA","kid":null}`, "the access token is malformed", ""},
		{`{"alg":"EdDSA","kid":"k1","kid":["k1"]}`, "the access token is malformed", ""},
	}
	for _, tt := range tests {
		for _, set := range []struct {
			name string
			keys jwks.Set
			want string
		}{{"remote", remote, tt.remote}, {"static", static, tt.stat}} {
			v, err := New(Config{
				Issuers: []Issuer{{Issuer: "https://issuer.example", Audiences: []string{"api"}, Keys: set.keys}},
				Now:     func() time.Time { return now },
				Cache:   CacheConfig{Disabled: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = v.Verify(context.Background(), sign(tt.header))
			got := ""
			if err != nil {
				got = err.(*Error).Description
			}
			if got != set.want {
				t.Errorf("%s, header %s: refused with %q, want %q (%v)", set.name, tt.header, got, set.want, err)
			}
		}
	}
}
