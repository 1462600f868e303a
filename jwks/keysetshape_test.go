package jwks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// notKeySets are 200 responses that decode as JSON but are no JWK Set.
var notKeySets = []struct{ body, wantErr string }{
	{`{}`, `no "keys" array`},
	{`null`, "not a JSON object"},
	{`{"keys":null}`, `no "keys" array`},
	{`{"error":"temporarily_unavailable","secret":"body"}`, `no "keys" array`},
	{`{"keys":{"kty":"RSA"}}`, `no "keys" array`},
	{`{"KEYS":[]}`, `no "keys" array`},
	{`[]`, "not a JSON object"},
	{`"secret-body"`, "not a JSON object"},
	{`{"keys":[]} secret-body`, "not valid JSON"},
}

// TestNonKeySetBodyKeepsKeys ports the review's TestJWKSNonSetBodyWipesKeys:
// such a body fails the refresh and the keys held stay.
func TestNonKeySetBodyKeepsKeys(t *testing.T) {
	for _, tc := range notKeySets {
		t.Run(tc.body, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
			r := newRemote(t, p.url("/jwks"), jwks.Options{})
			before := r.Status()
			tok := sign(t, jwt.SigningMethodRS256, rsaA(), "k1")
			wantOK(t, verify(r, tok))

			p.serveJSON("/jwks", []byte(tc.body))
			err := r.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Refresh error = %v, want one containing %q", err, tc.wantErr)
			}
			st := r.Status()
			if st.Keys != 1 || !st.LastRefresh.Equal(before.LastRefresh) || st.LastError != err.Error() {
				t.Fatalf("status = %+v", st)
			}
			if strings.Contains(st.LastError, "secret") {
				t.Fatalf("LastError quotes the body: %q", st.LastError)
			}
			wantOK(t, verify(r, tok))
		})
	}
}

func TestNonKeySetBodyOnFirstLoadFails(t *testing.T) {
	for _, tc := range notKeySets {
		t.Run(tc.body, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", []byte(tc.body))
			r := newRemote(t, p.url("/jwks"), jwks.Options{})
			st := r.Status()
			if st.Keys != 0 || !st.LastRefresh.IsZero() || !strings.Contains(st.LastError, tc.wantErr) {
				t.Fatalf("status = %+v, want a failed first load", st)
			}
			wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k1")), jwks.ErrNoKeys)
		})
	}
}

// TestEmptySetAfterKeysKeepsKeys: a well-formed set without any usable
// signature key does not replace usable keys.
func TestEmptySetAfterKeysKeepsKeys(t *testing.T) {
	oct := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name string
		body func(t *testing.T) []byte
	}{
		{"no keys", func(*testing.T) []byte { return []byte(`{"keys":[]}`) }},
		{"only unusable keys", func(t *testing.T) []byte {
			return jwksJSON(t,
				jwk{key: rsaB(), kid: "enc", use: jwkset.UseEnc},
				jwk{key: oct, kid: "oct", private: true},
				jwk{key: rsa1024(), kid: "weak"},
			)
		}},
		{"only unreadable keys", func(t *testing.T) []byte {
			return rawSet(t, map[string]any{"kty": "RSA", "kid": "no-e", "n": "AQAB"}, map[string]any{"kty": "AKP"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
			r := newRemote(t, p.url("/jwks"), jwks.Options{})
			before := r.Status()
			tok := sign(t, jwt.SigningMethodRS256, rsaA(), "k1")

			p.serveJSON("/jwks", tc.body(t))
			err := r.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), "the key set has no usable signature keys") {
				t.Fatalf("Refresh error = %v", err)
			}
			st := r.Status()
			if st.Keys != 1 || st.LastError != err.Error() || !st.LastRefresh.Equal(before.LastRefresh) {
				t.Fatalf("status = %+v", st)
			}
			wantOK(t, verify(r, tok))
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")))

			// A set with a usable key replaces the old keys again.
			p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaB(), kid: "k2"}))
			wantOK(t, r.Refresh(context.Background()))
			wantErr(t, verify(r, tok), jwks.ErrUnknownKey)
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaB(), "k2")))
			if st := r.Status(); st.Keys != 1 || st.LastError != "" {
				t.Fatalf("status after recovery = %+v", st)
			}
		})
	}
}

// TestEmptySetOnFirstLoad: with no usable keys held, an empty set is a
// successful load of no keys, with a warning.
func TestEmptySetOnFirstLoad(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", []byte(`{"keys":[]}`))
	logs := newLogSink()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger()})
	st := r.Status()
	if st.Keys != 0 || st.LastError != "" || st.LastRefresh.IsZero() {
		t.Fatalf("status = %+v, want a successful load of no keys", st)
	}
	logs.wait(t, "jwks: key set holds no usable signature key")
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k1")), jwks.ErrNoKeys)

	// So is a set of keys that fit no algorithm, and an empty set after it.
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsa1024(), kid: "weak"}))
	wantOK(t, r.Refresh(context.Background()))
	p.serveJSON("/jwks", []byte(`{"keys":[]}`))
	wantOK(t, r.Refresh(context.Background()))

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
	wantOK(t, r.Refresh(context.Background()))
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k1")))
}
