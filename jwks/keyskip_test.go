package jwks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

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
	ec := ecP256().PublicKey
	x, y := b64(ec.X.FillBytes(make([]byte, 32))), b64(ec.Y.FillBytes(make([]byte, 32)))
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
