package keywardtest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/keywardtest"
)

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

type jwkSet struct {
	Keys []struct{ Kid, Alg, Use, Kty, D string } `json:"keys"`
}

func kids(set jwkSet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func TestIssuerPublishesKeys(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "RS256", "ES256", "EdDSA")
	var set jwkSet
	getJSON(t, iss.JWKSURL, &set)
	if len(set.Keys) != 3 {
		t.Fatalf("JWKS has %d keys, want 3", len(set.Keys))
	}
	for i, want := range []string{"RS256", "ES256", "EdDSA"} {
		k := set.Keys[i]
		if k.Alg != want || k.Use != "sig" || k.Kid == "" || k.D != "" {
			t.Fatalf("key %d = %+v, want a public %s signing key with a kid", i, k, want)
		}
	}
	if iss.Fetches() != 1 {
		t.Fatalf("Fetches = %d, want 1", iss.Fetches())
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		var raw map[string]any
		getJSON(t, iss.URL+path, &raw)
		if raw["issuer"] != iss.URL || raw["jwks_uri"] != iss.JWKSURL {
			t.Fatalf("%s = %v", path, raw)
		}
	}
}

func TestIssuerRotateAndRemove(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	old := iss.Key()
	next := iss.Rotate(t, "ES384")
	if iss.Key() != next || next.Alg != "ES384" {
		t.Fatal("Rotate did not make the new key current")
	}
	var set jwkSet
	getJSON(t, iss.JWKSURL, &set)
	if !slices.Equal(kids(set), []string{old.ID, next.ID}) {
		t.Fatalf("kids = %v, want both keys", kids(set))
	}
	iss.RemoveKey(old.ID)
	getJSON(t, iss.JWKSURL, &set)
	if !slices.Equal(kids(set), []string{next.ID}) {
		t.Fatalf("kids after RemoveKey = %v", kids(set))
	}
}

func TestIssuerToken(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	now := time.Unix(1_800_000_000, 0)
	iss.Now = func() time.Time { return now }
	raw := iss.Token(t, jwt.MapClaims{"scope": "a b", "client_id": nil})
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return iss.Key().Public(), nil },
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	c := tok.Claims.(jwt.MapClaims)
	if c["iss"] != iss.URL || c["aud"] != iss.Audience || c["sub"] != "test-client" || c["scope"] != "a b" {
		t.Fatalf("claims = %v", c)
	}
	if _, ok := c["client_id"]; ok {
		t.Fatal("a nil override did not remove client_id")
	}
	if c["exp"].(float64) != float64(now.Add(15*time.Minute).Unix()) || c["jti"] == "" {
		t.Fatalf("exp/jti = %v/%v", c["exp"], c["jti"])
	}
	if tok.Header["kid"] != iss.Key().ID {
		t.Fatalf("kid = %v", tok.Header["kid"])
	}
	noKid := iss.Sign(t, iss.Key(), map[string]any{"kid": nil, "typ": "at+jwt"}, iss.Claims(nil))
	tok, _, err = jwt.NewParser().ParseUnverified(noKid, jwt.MapClaims{})
	if err != nil || tok.Header["kid"] != nil || tok.Header["typ"] != "at+jwt" {
		t.Fatalf("header = %v, %v", tok.Header, err)
	}
}

func TestNewKeyRejectsUnknownAlg(t *testing.T) {
	for _, alg := range []string{"HS256", "none", "RS1"} {
		if _, err := keywardtest.NewKey(alg); err == nil {
			t.Errorf("NewKey(%q) succeeded", alg)
		}
	}
}

func TestIssuerAuthenticator(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	a := iss.Authenticator(t, func(c *keywardtest.Config) { c.JWT.RequireType = "" })
	ctx := t.Context()
	if _, err := a.Verify(ctx, iss.Token(t, jwt.MapClaims{"scope": "x"}), ""); err != nil {
		t.Fatalf("Token: %v", err)
	}
	for name, raw := range map[string]string{
		"expired": iss.ExpiredToken(t, nil),
		"forged":  iss.ForgedToken(t, nil),
	} {
		_, err := a.Verify(ctx, raw, "")
		var e *dualauth.Error
		if !errors.As(err, &e) || e.Code != dualauth.CodeInvalidToken {
			t.Errorf("%s token: %v, want invalid_token", name, err)
		}
	}
	if cfg := iss.Config(t); cfg.JWT.Issuers[0].Issuer != iss.URL || cfg.JWT.Issuers[0].Audiences[0] != iss.Audience {
		t.Fatalf("Config = %+v", cfg)
	}
}

func TestRotateRefreshesConfigKeySets(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	a := iss.Authenticator(t, nil)
	iss.Rotate(t, "EdDSA")
	if _, err := a.Verify(t.Context(), iss.Token(t, nil), ""); err != nil {
		t.Fatalf("first token after Rotate: %v", err)
	}
}

// TestConfigValidateAndClose: a Config from Issuer.Config validates (the
// embedded dualauth.Config's Validate would ask for the Tokens only Build
// makes), and Close stops its key set when nothing built from it holds it.
func TestConfigValidateAndClose(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	cfg := iss.Config(t)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate of a good Config: %v", err)
	}
	bad := iss.Config(t)
	bad.JWT.Issuers[0].Audiences = nil
	if err := bad.Validate(); err == nil {
		t.Fatal("Validate accepted an issuer without audiences")
	}
	remote := cfg.JWT.Issuers[0].Keys.(*jwks.Remote)
	if err := cfg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := remote.Refresh(t.Context()); err == nil {
		t.Fatal("the key set still refreshes after Config.Close")
	}
}
