package jwks_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
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

// badKey is a JWK that cannot be used, with the reason logged for it and the
// strings (key material) that must not reach logs or Status.
type badKey struct {
	name   string
	member any
	reason string
	secret []string
}

func badKeys(t *testing.T) []badKey {
	b64 := base64.RawURLEncoding.EncodeToString
	n := b64(rsaC().N.Bytes())
	point, err := ecP256().PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each
	wantOK(t, err)
	x, y := b64(point[1:33]), b64(point[33:])
	block, _ := pem.Decode(selfSigned(t, ecP384()))
	if block == nil {
		t.Fatal("no test certificate")
	}
	certOfOtherKey := base64.StdEncoding.EncodeToString(block.Bytes)
	rsaWith := func(extra map[string]any) map[string]any {
		m := map[string]any{"kty": "RSA", "kid": "bad", "n": n, "e": "AQAB"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	return []badKey{
		{"RSA without e", map[string]any{"kty": "RSA", "kid": "bad", "n": n}, "missing or malformed key parameter", []string{n}},
		{"RSA with malformed n", rsaWith(map[string]any{"n": "***" + n}), "malformed", []string{n}},
		{`"use" SIG`, rsaWith(map[string]any{"use": "SIG"}), `unregistered "use"`, []string{n}},
		{`"use" tls`, map[string]any{"kty": "EC", "kid": "bad", "use": "tls", "crv": "P-256", "x": x, "y": y}, `unregistered "use"`, []string{x, y}},
		{`unknown "key_ops" value`, rsaWith(map[string]any{"key_ops": []string{"verify", "x"}}), `unregistered "key_ops"`, []string{n}},
		{"oct without k", map[string]any{"kty": "oct", "kid": "bad", "alg": "HS256"}, "missing or malformed key parameter", nil},
		{"EC point off the curve", map[string]any{"kty": "EC", "kid": "bad", "crv": "P-256", "x": "AQ", "y": "AQ"}, "invalid key (point off the curve", nil},
		{"x5c not base64", rsaWith(map[string]any{"x5c": []string{"!!"}}), `invalid "x5c"`, []string{n}},
		{"x5c not a certificate", rsaWith(map[string]any{"x5c": []string{"AAAA"}}), `invalid "x5c"`, []string{n}},
		{"x5c of another key", rsaWith(map[string]any{"x5c": []string{certOfOtherKey}}), `"x5c" certificate does not match`, []string{n, certOfOtherKey}},
		{"unknown kty", map[string]any{"kty": "AKP", "kid": "bad", "alg": "ML-DSA-44", "pub": "AAAA"}, "unsupported key type", nil},
		{"unsupported curve", map[string]any{"kty": "EC", "kid": "bad", "crv": "secp256k1", "x": x, "y": y}, "unsupported key type or curve", []string{x, y}},
		{"not an object", "just a string", "not a JWK object", nil},
		{"null member", nil, "unsupported key type", nil},
	}
}

// TestOneBadKeyDoesNotPoisonTheSet ports the review's
// TestJWKSPoisonedByOneKey: a key that cannot be read is skipped, and the
// other keys load, on the first fetch and on refreshes.
func TestOneBadKeyDoesNotPoisonTheSet(t *testing.T) {
	for _, bk := range badKeys(t) {
		t.Run(bk.name, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", rawSet(t, jwk{key: rsaA(), kid: "k1"}, bk.member))
			logs := newLogSink()
			r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger()})

			// First load: the good key verifies.
			tok1 := sign(t, jwt.SigningMethodRS256, rsaA(), "k1")
			wantOK(t, verify(r, tok1))
			if st := r.Status(); st.Keys != 1 || st.Skipped != 1 || st.LastError != "" || st.LastRefresh.IsZero() {
				t.Fatalf("status after first load = %+v, want 1 key, 1 skipped, no error", st)
			}
			rec := logs.wait(t, "jwks: key skipped")
			if !strings.Contains(rec, "reason="+bk.reason) {
				t.Fatalf("skip record %q lacks reason %q", rec, bk.reason)
			}
			logs.wait(t, "jwks: keys skipped as unreadable or unsafe")

			// Refresh: a rotated-in key is picked up and a removed key stops
			// verifying, with the bad key still published.
			p.serveJSON("/jwks", rawSet(t, bk.member, jwk{key: rsaB(), kid: "k2"}))
			wantOK(t, r.Refresh(context.Background()))
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaB(), "k2")))
			wantErr(t, verify(r, tok1), jwks.ErrUnknownKey)
			wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")), jwt.ErrTokenSignatureInvalid)
			wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaC(), "bad")), jwks.ErrUnknownKey)
			if st := r.Status(); st.Keys != 1 || st.Skipped != 1 || st.LastError != "" {
				t.Fatalf("status after refresh = %+v", st)
			}

			for _, rec := range logs.all() {
				for _, s := range bk.secret {
					if strings.Contains(rec, s) {
						t.Fatalf("log record quotes key material: %q", rec)
					}
				}
			}
		})
	}
}

func TestSkippedInStatusJSON(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", rawSet(t, jwk{key: ecP256(), kid: "ok"}, map[string]any{"kty": "AKP"}, map[string]any{"kty": "RSA"}))
	logs := newLogSink()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger()})
	b, err := json.Marshal(r.Status())
	wantOK(t, err)
	if !strings.Contains(string(b), `"keys":1,"skipped":2`) {
		t.Fatalf("status JSON = %s", b)
	}
	// The warning comes once per change of the count, not on every refresh.
	wantOK(t, r.Refresh(context.Background()))
	if n := logs.count("jwks: keys skipped as unreadable or unsafe"); n != 1 {
		t.Fatalf("%d skip warnings for two loads skipping the same keys, want 1", n)
	}

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: ecP256(), kid: "ok"}))
	wantOK(t, r.Refresh(context.Background()))
	b, err = json.Marshal(r.Status())
	wantOK(t, err)
	if strings.Contains(string(b), "skipped") {
		t.Fatalf("status JSON with nothing skipped = %s", b)
	}
}

func TestSkippedKeysAreBounded(t *testing.T) {
	// Many unreadable members: all are counted, few are logged one by one.
	members := []any{jwk{key: ecP256(), kid: "ok"}}
	for i := range 200 {
		members = append(members, map[string]any{"kty": "RSA", "kid": fmt.Sprint("bad-", i)})
	}
	p := newIDP(t)
	p.serveJSON("/jwks", rawSet(t, members...))
	logs := newLogSink()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger()})
	if st := r.Status(); st.Keys != 1 || st.Skipped != 200 {
		t.Fatalf("status = %+v", st)
	}
	if n := logs.count("jwks: key skipped"); n > 10 {
		t.Fatalf("%d per-key skip records for one load", n)
	}
	wantOK(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "ok")))
}

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

// TestEd25519KeyWithOtherAlgSkipped: an Ed25519 JWK whose "alg" is not EdDSA
// is invalid (jwkset refuses to build one) and is skipped and counted; a key
// of another type whose "alg" it cannot serve is held but never fits.
func TestEd25519KeyWithOtherAlgSkipped(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	p := newIDP(t)
	p.serveJSON("/jwks", rawSet(t,
		jwk{key: rsaA(), kid: "ok"},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "alg": "ES256", "x": b64(edKey()[32:])},
		rsaJWK("rsa-es256", &rsaB().PublicKey, map[string]any{"alg": "ES256"}),
	))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	if st := r.Status(); st.Keys != 2 || st.Skipped != 1 || st.LastError != "" {
		t.Fatalf("status = %+v, want 2 keys (ok, rsa-es256) and 1 skipped", st)
	}
	wantErr(t, verify(r, sign(t, jwt.SigningMethodEdDSA, edKey(), "ed")), jwks.ErrUnknownKey)
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaB(), "rsa-es256")), jwks.ErrKeyMismatch)
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "ok")))
}
