package keywardtest

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/dpop"
	"github.com/keyward/keyward/internal/signkey"
)

// DPoPKey is a client's DPoP key (RFC 9449): it signs the proofs a client
// sends with a DPoP-bound access token, and its thumbprint is what such a
// token carries as cnf.jkt.
type DPoPKey struct {
	// Alg is the JWS algorithm the key signs proofs with, such as "ES256".
	Alg string

	key        signkey.Key
	jwk        map[string]any // the public key, as a proof's jwk header
	thumbprint string
}

// NewDPoPKey generates a DPoP key for alg: RS256/384/512 and PS256/384/512
// (RSA 2048), ES256/384/512 (P-256, P-384, P-521) or EdDSA (Ed25519).
func NewDPoPKey(alg string) (*DPoPKey, error) {
	key, err := signkey.Generate(alg)
	if err != nil {
		return nil, fmt.Errorf("keywardtest: %w", err)
	}
	public, err := key.JWK("", "", "")
	if err != nil {
		return nil, fmt.Errorf("keywardtest: %w", err)
	}
	text, err := json.Marshal(public.Marshal())
	if err != nil {
		return nil, fmt.Errorf("keywardtest: %w", err)
	}
	thumbprint, err := dpop.Thumbprint(text)
	if err != nil {
		return nil, fmt.Errorf("keywardtest: %w", err)
	}
	k := &DPoPKey{Alg: alg, key: key, thumbprint: thumbprint}
	if err := json.Unmarshal(text, &k.jwk); err != nil {
		return nil, fmt.Errorf("keywardtest: %w", err)
	}
	return k, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the key, base64url
// encoded: the cnf.jkt of a token bound to it (Issuer.Token with
// Claims{"cnf": map[string]any{"jkt": key.Thumbprint()}}).
func (k *DPoPKey) Thumbprint() string { return k.thumbprint }

// Public returns the key's public half.
func (k *DPoPKey) Public() crypto.PublicKey { return k.key.Public() }

// JWK returns the public key as a JWK (a copy, to change at will for a
// proof's Header).
func (k *DPoPKey) JWK() map[string]any { return maps.Clone(k.jwk) }

// ProofOptions change a proof, mostly to make wrong ones.
type ProofOptions struct {
	// Nonce is the nonce claim (RFC 9449 §8); empty: none.
	Nonce string
	// IssuedAt is the iat claim; zero: now.
	IssuedAt time.Time
	// JTI is the jti claim; empty: 128 random bits.
	JTI string
	// Header entries are set in the JOSE header over typ, alg and jwk; a
	// nil value removes an entry (as {"jwk": nil}).
	Header map[string]any
	// Claims entries are set over jti, htm, htu, iat, ath and nonce; a
	// nil value removes one.
	Claims map[string]any
}

// Proof returns a DPoP proof (RFC 9449 §4.2) for a request with method to
// uri (its query and fragment are left out of htu) presenting accessToken
// (its hash is the ath; empty: no ath), signed with the key. o may be nil.
func (k *DPoPKey) Proof(method, uri, accessToken string, o *ProofOptions) (string, error) {
	if o == nil {
		o = &ProofOptions{}
	}
	uri, _, _ = strings.Cut(uri, "#")
	uri, _, _ = strings.Cut(uri, "?")
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	claims := jwt.MapClaims{"jti": o.JTI, "htm": method, "htu": uri, "iat": iat.Unix()}
	if o.JTI == "" {
		claims["jti"] = rand.Text()
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if o.Nonce != "" {
		claims["nonce"] = o.Nonce
	}
	for name, v := range o.Claims {
		if v == nil {
			delete(claims, name)
			continue
		}
		claims[name] = v
	}
	header := map[string]any{"typ": "dpop+jwt", "kid": nil, "jwk": k.jwk}
	maps.Copy(header, o.Header)
	return k.key.Sign(claims, "", header)
}

// SignRaw signs header and payload exactly as given with the key (each is
// base64url encoded, then signed with the key's algorithm): for proofs no
// JSON encoder would write.
func (k *DPoPKey) SignRaw(header, payload []byte) (string, error) {
	return k.key.SignRaw(header, payload)
}

// DPoPTransport is an http.RoundTripper that sends each request with a
// fresh DPoP proof signed by Key, as a DPoP client does (x/oauth2 has no
// such transport). The access token is the request's own "Authorization:
// DPoP <token>" (x/oauth2's Transport writes it so for a token of type
// DPoP) or "Bearer <token>", which it sends as DPoP; a request without one
// gets a proof without ath.
//
// When the server answers 401 with error="use_dpop_nonce" and a DPoP-Nonce
// header (RFC 9449 §8), the request is sent once more with a proof
// carrying that nonce, if its body can be sent again (GetBody, as
// http.NewRequest sets for in-memory bodies). The last nonce a server sent
// is put in every later proof.
type DPoPTransport struct {
	// Key signs the proofs.
	Key *DPoPKey
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Now is the proofs' clock; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	nonce string
}

// RoundTrip implements http.RoundTripper.
func (t *DPoPTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.send(req, req.Body)
	if err != nil || !t.askedForNonce(resp) || (req.Body != nil && req.GetBody == nil) {
		return resp, err
	}
	var body io.ReadCloser
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return t.send(req, body)
}

// send sends a copy of req with body and a fresh proof.
func (t *DPoPTransport) send(req *http.Request, body io.ReadCloser) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = body
	token := ""
	if scheme, value, found := strings.Cut(req.Header.Get("Authorization"), " "); found &&
		(strings.EqualFold(scheme, "DPoP") || strings.EqualFold(scheme, "Bearer")) {
		token = value
		out.Header.Set("Authorization", "DPoP "+token)
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	t.mu.Lock()
	nonce := t.nonce
	t.mu.Unlock()
	uri := *req.URL
	uri.User = nil
	proof, err := t.Key.Proof(req.Method, uri.String(), token, &ProofOptions{Nonce: nonce, IssuedAt: now()})
	if err != nil {
		if body != nil {
			_ = body.Close()
		}
		return nil, fmt.Errorf("keywardtest: DPoP proof: %w", err)
	}
	out.Header.Set("DPoP", proof)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(out)
	if err == nil {
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			t.mu.Lock()
			t.nonce = n
			t.mu.Unlock()
		}
	}
	return resp, err
}

// askedForNonce reports whether resp asks for a proof with the nonce it
// provides.
func (t *DPoPTransport) askedForNonce(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("DPoP-Nonce") == "" {
		return false
	}
	for _, challenge := range resp.Header.Values("WWW-Authenticate") {
		if strings.Contains(challenge, `error="use_dpop_nonce"`) {
			return true
		}
	}
	return false
}
