package jwks_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// fakeRSA returns an RSA public key with a random odd modulus of exactly bits
// bits: generating real keys of these sizes takes far too long, and the
// Keyfunc never needs a matching private key.
func fakeRSA(t *testing.T, bits int) *rsa.PublicKey {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	wantOK(t, err)
	n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: 65537}
}

// rsaJWK is the JWK of key, built by hand.
func rsaJWK(kid string, key *rsa.PublicKey, extra map[string]any) map[string]any {
	m := map[string]any{
		"kty": "RSA", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestRSAKeySizeCap(t *testing.T) {
	atMax, aboveMax, huge := fakeRSA(t, 8192), fakeRSA(t, 8193), fakeRSA(t, 65536)
	p := newIDP(t)
	p.serveJSON("/jwks", rawSet(t,
		jwk{key: rsaA(), kid: "ok"},
		rsaJWK("max", atMax, nil),
		rsaJWK("above", aboveMax, nil),
		// Private members too: the size is checked before jwkset would
		// validate the private key.
		rsaJWK("huge", huge, map[string]any{"d": "AQAB", "p": "AQAB", "q": "AQAB", "dp": "AQAB", "dq": "AQAB", "qi": "AQAB"}),
	))
	logs := newLogSink()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger()})
	if st := r.Status(); st.Keys != 2 || st.Skipped != 2 || st.LastError != "" {
		t.Fatalf("status = %+v, want 2 keys (ok, max) and 2 skipped", st)
	}
	if rec := logs.wait(t, "jwks: key skipped"); !strings.Contains(rec, "RSA modulus above 8192 bits") {
		t.Fatalf("skip record = %q", rec)
	}

	kf := r.Keyfunc(context.Background())
	key, err := kf(&jwt.Token{Header: map[string]any{"alg": "RS256", "kid": "max"}})
	wantOK(t, err)
	if k, ok := key.(*rsa.PublicKey); !ok || !k.Equal(atMax) {
		t.Fatalf("key for kid max = %T, want the 8192-bit key", key)
	}
	for _, kid := range []string{"above", "huge"} {
		_, err := kf(&jwt.Token{Header: map[string]any{"alg": "RS256", "kid": kid}})
		wantErr(t, err, jwks.ErrUnknownKey)
	}
	// A token without kid is tried against the keys that fit only.
	set, err := kf(&jwt.Token{Header: map[string]any{"alg": "PS256"}})
	wantOK(t, err)
	if ks, ok := set.(jwt.VerificationKeySet); !ok || len(ks.Keys) != 2 {
		t.Fatalf("keys for a token without kid = %#v, want 2", set)
	}
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")))
}

func TestRSAKeySizeCapOnlyOversizedKeepsKeys(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "ok"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	p.serveJSON("/jwks", rawSet(t, rsaJWK("big", fakeRSA(t, 16384), nil)))
	err := r.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no usable signature keys") || !strings.Contains(err.Error(), "1 of 1 skipped") {
		t.Fatalf("Refresh error = %v", err)
	}
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "ok")))
}

func TestStaticRefusesOversizedRSA(t *testing.T) {
	_, err := jwks.NewStatic("x", fakeRSA(t, 8193))
	if err == nil || !strings.Contains(err.Error(), "above the maximum of 8192") {
		t.Fatalf("error = %v", err)
	}
	s, err := jwks.NewStatic("x", fakeRSA(t, 8192))
	wantOK(t, err)
	if st := s.Status(); st.Keys != 1 {
		t.Fatalf("status = %+v", st)
	}
}
