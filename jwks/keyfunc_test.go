package jwks_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// allFamilies is a JWK Set with one key per algorithm family.
func allFamilies(t *testing.T) []byte {
	return jwksJSON(t,
		jwk{key: rsaA(), kid: "rsa"},
		jwk{key: ecP256(), kid: "p256"},
		jwk{key: ecP384(), kid: "p384"},
		jwk{key: ecP521(), kid: "p521"},
		jwk{key: edKey(), kid: "ed"},
	)
}

func TestKeyfuncAlgorithms(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", allFamilies(t))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	if got := r.Status().Keys; got != 5 {
		t.Fatalf("Status.Keys = %d, want 5", got)
	}
	tests := []struct {
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{jwt.SigningMethodRS256, rsaA(), "rsa"},
		{jwt.SigningMethodRS384, rsaA(), "rsa"},
		{jwt.SigningMethodRS512, rsaA(), "rsa"},
		{jwt.SigningMethodPS256, rsaA(), "rsa"},
		{jwt.SigningMethodPS384, rsaA(), "rsa"},
		{jwt.SigningMethodPS512, rsaA(), "rsa"},
		{jwt.SigningMethodES256, ecP256(), "p256"},
		{jwt.SigningMethodES384, ecP384(), "p384"},
		{jwt.SigningMethodES512, ecP521(), "p521"},
		{jwt.SigningMethodEdDSA, edKey(), "ed"},
	}
	for _, tc := range tests {
		t.Run(tc.method.Alg()+"/kid", func(t *testing.T) {
			wantOK(t, verify(r, sign(t, tc.method, tc.key, tc.kid)))
		})
		t.Run(tc.method.Alg()+"/no-kid", func(t *testing.T) {
			wantOK(t, verify(r, sign(t, tc.method, tc.key, "")))
		})
	}
}

func TestKeyfuncSeedStyleSingleKeyNoKid(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA()})) // no kid in the JWK either
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")))
	// A token signed by another key must not verify.
	if err := verify(r, sign(t, jwt.SigningMethodRS256, rsaB(), "")); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Fatalf("foreign key: error = %v, want signature invalid", err)
	}
}

func TestKeyfuncReturnsPublicKeyOnly(t *testing.T) {
	p := newIDP(t)
	// An issuer that (wrongly) publishes private material.
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k", private: true}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	tok, _, err := jwt.NewParser().ParseUnverified(sign(t, jwt.SigningMethodRS256, rsaA(), "k"), jwt.MapClaims{})
	wantOK(t, err)
	key, err := r.Keyfunc(context.Background())(tok)
	wantOK(t, err)
	if _, ok := key.(*rsa.PublicKey); !ok {
		t.Fatalf("key type %T, want *rsa.PublicKey", key)
	}
}

func TestKeyfuncRefusals(t *testing.T) {
	oct := []byte("0123456789abcdef0123456789abcdef")
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t,
		jwk{key: rsaA(), kid: "rsa"},
		jwk{key: ecP256(), kid: "p256"},
		jwk{key: rsa1024(), kid: "rsa1024"},
		jwk{key: rsaB(), kid: "enc", use: jwkset.UseEnc},
		jwk{key: rsaC(), kid: "wrap", keyOps: []jwkset.KEYOPS{jwkset.KeyOpsWrapKey}},
		jwk{key: oct, kid: "oct", private: true},
		jwk{key: ecP384(), kid: "es384only", alg: jwkset.AlgES384},
	))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	if got := r.Status().Keys; got != 4 { // rsa, p256, rsa1024, es384only
		t.Fatalf("Status.Keys = %d, want 4 (enc, wrapKey-only and oct keys dropped)", got)
	}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"RSA key with ES256 token", sign(t, jwt.SigningMethodES256, ecP256(), "rsa"), jwks.ErrKeyMismatch},
		{"P-256 key with ES384 token", sign(t, jwt.SigningMethodES384, ecP384(), "p256"), jwks.ErrKeyMismatch},
		{"1024-bit RSA key", sign(t, jwt.SigningMethodRS256, rsa1024(), "rsa1024"), jwks.ErrKeyMismatch},
		{"JWK alg differs from token alg", sign(t, jwt.SigningMethodES256, ecP256(), "es384only"), jwks.ErrKeyMismatch},
		{"enc key by kid", sign(t, jwt.SigningMethodRS256, rsaB(), "enc"), jwks.ErrUnknownKey},
		{"key_ops without verify by kid", sign(t, jwt.SigningMethodRS256, rsaC(), "wrap"), jwks.ErrUnknownKey},
		{"oct key by kid", sign(t, jwt.SigningMethodHS256, oct, "oct"), jwks.ErrUnknownKey},
		{"HS256 without kid", sign(t, jwt.SigningMethodHS256, oct, ""), jwks.ErrNoKeys},
		{"HS256 with RSA kid", sign(t, jwt.SigningMethodHS256, oct, "rsa"), jwks.ErrKeyMismatch},
		{"enc key without kid", sign(t, jwt.SigningMethodRS256, rsaB(), ""), jwt.ErrTokenSignatureInvalid},
		{"1024-bit RSA without kid", sign(t, jwt.SigningMethodRS256, rsa1024(), ""), jwt.ErrTokenSignatureInvalid},
		{"ES512 without kid: no P-521 key", sign(t, jwt.SigningMethodES512, ecP521(), ""), jwks.ErrNoKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, verify(r, tc.token), tc.want)
		})
	}
}

func TestKeyfuncEncOnlySetNoKid(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t,
		jwk{key: rsaA(), kid: "enc", use: jwkset.UseEnc},
		jwk{key: ecP256(), kid: "sig", use: jwkset.UseSig},
	))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")), jwks.ErrNoKeys)
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "enc")), jwks.ErrUnknownKey)
	wantOK(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "")))
}

func TestKeyfuncKeyOpsVerifyKept(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k", keyOps: []jwkset.KEYOPS{jwkset.KeyOpsVerify}}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k")))
}

func TestKeyfuncDuplicateKidAcrossKeyTypes(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "dup"}, jwk{key: ecP256(), kid: "dup"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "dup")))
	wantOK(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "dup")))
	wantErr(t, verify(r, sign(t, jwt.SigningMethodES384, ecP384(), "dup")), jwks.ErrKeyMismatch)
}

func TestKeyfuncIgnoresKeyCarryingHeaders(t *testing.T) {
	attacker := newIDP(t)
	attacker.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaB(), kid: "evil"}))
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "good"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})

	evilJWK := map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}
	for _, h := range []map[string]any{
		{"jku": attacker.url("/jwks")},
		{"x5u": attacker.url("/cert")},
		{"jwk": evilJWK},
		{"x5c": []string{"MIIB"}},
	} {
		for _, kid := range []string{"", "evil", "good"} {
			err := verify(r, signHeader(t, jwt.SigningMethodRS256, rsaB(), kid, h))
			if err == nil {
				t.Fatalf("token signed by attacker with header %v and kid %q verified", h, kid)
			}
		}
	}
	if n := attacker.n.Load(); n != 0 {
		t.Fatalf("attacker server got %d requests", n)
	}
}

func TestKeyfuncMalformedHeader(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	st, err := jwks.NewStatic("static", rsaA().Public())
	wantOK(t, err)
	tests := []struct {
		name   string
		header map[string]any
	}{
		{"alg missing", map[string]any{"kid": "k"}},
		{"alg not a string", map[string]any{"alg": 256, "kid": "k"}},
		{"kid not a string", map[string]any{"alg": "RS256", "kid": 7}},
		{"kid null", map[string]any{"alg": "RS256", "kid": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := r.Keyfunc(context.Background())(&jwt.Token{Header: tc.header})
			if err == nil || key != nil {
				t.Fatalf("got key %v, err %v; want error", key, err)
			}
			if errors.Is(err, jwks.ErrUnknownKey) {
				t.Fatalf("malformed header reported as unknown key: %v", err)
			}
		})
	}
	if _, err := st.Keyfunc(context.Background())(&jwt.Token{Header: map[string]any{"alg": 1}}); err == nil {
		t.Fatal("static: alg not a string accepted")
	}
	for _, alg := range []string{"none", "HS256", "RS1", ""} {
		_, err := r.Keyfunc(context.Background())(&jwt.Token{Header: map[string]any{"alg": alg}})
		wantErr(t, err, jwks.ErrNoKeys)
		_, err = st.Keyfunc(context.Background())(&jwt.Token{Header: map[string]any{"alg": alg}})
		wantErr(t, err, jwks.ErrNoKeys)
	}
	// An empty kid is treated as no kid.
	wantOK(t, verify(r, signHeader(t, jwt.SigningMethodRS256, rsaA(), "", map[string]any{"kid": ""})))
}
