package jwtauth

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/dpop"
	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/internal/jwtverify"
)

// DPoP turns on DPoP-bound access tokens (RFC 9449): a token whose cnf
// claim (or introspection member) holds only jkt, the thumbprint of the
// client's DPoP key, is accepted when it comes as `Authorization: DPoP
// <token>` with one DPoP header holding a proof signed by that key for
// this request (RFC 9449 §4.3 and §7.1): typ dpop+jwt, an asymmetric alg
// of Algorithms, a public jwk in its header that verifies its signature,
// htm the request's method, htu its URI as the client used it (scheme and
// host from X-Forwarded-Proto and X-Forwarded-Host only when the peer is
// one of dualauth.Config.TrustedProxies), iat within MaxAge (plus the
// leeway) of now, ath the token's hash, and a jti not seen before.
//
// The refusals (401, with a `DPoP algs="…"` challenge): invalid_dpop_proof
// for a proof that fails a check, none or two DPoP headers; with Nonces,
// use_dpop_nonce and a DPoP-Nonce header for a proof without the current
// nonce; invalid_token for a bound token sent as Bearer (§7.2: with a
// Bearer challenge and a DPoP one beside) and for a token without cnf.jkt
// sent as DPoP. A token verified before comes from the cache: only the
// proof is new work.
//
// Without DPoP (Config.DPoP nil) a token with cnf.jkt is refused as any
// bound token is, Bearer or not.
type DPoP struct {
	// Required accepts DPoP-bound tokens only: the Bearer scheme is no
	// longer read (a Bearer token is answered as no credentials, with a
	// DPoP challenge), and a token without cnf.jkt sent as DPoP is
	// refused. Tokens verified without a request — given to
	// dualauth.Authenticator.Verify, or those clientauth gets by exchanging
	// client credentials — are held to their binding only: a bound one is
	// refused (there is no proof), an unbound one passes.
	Required bool
	// MaxAge is how old a proof's iat may be, besides Config.Leeway both
	// ways: 0 means 60 seconds, at most 10 minutes.
	MaxAge time.Duration
	// Algorithms are the JWS algorithms a proof may be signed with, as
	// listed in the challenge's algs; empty means all that
	// Config.Algorithms may name. none and HMAC are never accepted.
	Algorithms []string
	// Replay, if set, is where the proofs accepted are recorded (their
	// jti, for as long as their iat passes), shared by every replica that
	// uses it, so that a proof replayed to another replica is refused too:
	// Redis's SET key 1 NX PX ttl (go-redis's SetNX) is all it takes, and
	// the Redis store package config builds for credentials.throttle.redis
	// has it. While it cannot answer, DPoP requests are refused 503
	// temporarily_unavailable with Retry-After (a proof that cannot be
	// recorded could be replayed). A key past MaxReplayEntriesPerKey there
	// is refused 429.
	// Nil means the memory of this process, bounded by MaxReplayEntries.
	// The Verifier does not close it.
	Replay ReplayStore
	// MaxReplayEntries bounds the proofs the memory replay cache keeps
	// (about 150 bytes each): 0 means 100,000. While it has room a key
	// may take any part of it; when it is full, the key holding the most
	// gives its first-expiring record to a key below its fair share (the
	// bound over the keys recorded) and is refused 429 until that record
	// would have expired; full with every key at its share, 503.
	MaxReplayEntries int
	// MaxReplayEntriesPerKey bounds the memory cache's proofs of one key
	// (past it, 429 for that key): 0 means MaxReplayEntries. With a Replay
	// store that can count (the Redis store config builds can), it bounds
	// the proofs of one key recorded there within a record's longest
	// lifetime (max age, twice the leeway and 5 s), 0 meaning 100,000, so
	// that one bound token cannot fill Redis.
	MaxReplayEntriesPerKey int
	// Nonces makes every proof carry a nonce this server provides (RFC
	// 9449 §8), which bounds how long a proof made in advance can be
	// used: a proof without one, or with one that is not current, is
	// refused 401 use_dpop_nonce with a fresh nonce in a DPoP-Nonce header
	// (keywardtest.DPoPTransport, like other DPoP clients, retries with
	// it). Nonces are stateless: an HMAC of the time window, accepted in
	// the window they were made in and the next.
	Nonces bool
	// NonceSecret is the HMAC key of the nonces; replicas behind one name
	// need the same one (at least 32 bytes). Empty: a random key of this
	// process.
	NonceSecret []byte
	// NonceWindow is how often the nonce changes: 0 means 5 minutes, at
	// least 10 seconds. A nonce is accepted for one to two windows.
	NonceWindow time.Duration
}

// Bounds of the nonce options.
const (
	defaultNonceWindow = 5 * time.Minute
	minNonceWindow     = 10 * time.Second
	minNonceSecret     = 32
)

// ReplayStore records DPoP proofs for DPoP.Replay: Redis's SET key 1 NX PX
// ttl.
type ReplayStore interface {
	// SetOnce sets key for ttl unless it is set, and reports whether it
	// did. An error says the store could not answer.
	SetOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// validateDPoP checks c.DPoP as New does.
func (c Config) validateDPoP() error {
	d := c.DPoP
	if d == nil {
		return nil
	}
	fail := func(field, format string, args ...any) error {
		return &dualauth.ConfigError{Package: "jwtauth", Field: "DPoP." + field, Reason: fmt.Sprintf(format, args...)}
	}
	if d.MaxAge < 0 || d.MaxAge > dpop.MaxMaxAge {
		return fail("MaxAge", "%s is outside 0s to %s", d.MaxAge, dpop.MaxMaxAge)
	}
	switch {
	case d.MaxReplayEntries < 0:
		return fail("MaxReplayEntries", "may not be negative")
	case d.MaxReplayEntriesPerKey < 0:
		return fail("MaxReplayEntriesPerKey", "may not be negative")
	case len(d.NonceSecret) > 0 && len(d.NonceSecret) < minNonceSecret:
		return fail("NonceSecret", "has %d bytes, fewer than %d", len(d.NonceSecret), minNonceSecret)
	case d.NonceWindow < 0 || d.NonceWindow > 0 && d.NonceWindow < minNonceWindow:
		return fail("NonceWindow", "%s is below %s", d.NonceWindow, minNonceWindow)
	case !d.Nonces && (len(d.NonceSecret) > 0 || d.NonceWindow != 0):
		return fail("Nonces", "is off, so NonceSecret and NonceWindow would have no effect")
	}
	for i, alg := range d.Algorithms {
		if !slices.Contains(jwtverify.DefaultAlgorithms, alg) {
			return fail(fmt.Sprintf("Algorithms[%d]", i), "%s is not one of %s (none and HMAC are never accepted)",
				excerpt.Quote(alg), strings.Join(jwtverify.DefaultAlgorithms, ", "))
		}
	}
	return nil
}

// newProofChecker is the DPoP proof checker of cfg and its nonces (nil
// without DPoP.Nonces); nil without DPoP.
func newProofChecker(cfg Config) (*dpop.Checker, *nonces, error) {
	d := cfg.DPoP
	if d == nil {
		return nil, nil, nil
	}
	o := dpop.Options{Algorithms: d.Algorithms, MaxAge: d.MaxAge, Leeway: cfg.Leeway, Shared: d.Replay, Now: cfg.Now,
		MaxEntries: d.MaxReplayEntries, MaxEntriesPerKey: d.MaxReplayEntriesPerKey}
	var n *nonces
	if d.Nonces {
		n = &nonces{key: d.NonceSecret, window: cmp.Or(d.NonceWindow, defaultNonceWindow), now: cfg.Now}
		if n.now == nil {
			n.now = time.Now
		}
		if len(n.key) == 0 {
			n.key = []byte(rand.Text() + rand.Text())
		}
		o.Nonce = n.valid
	}
	c, err := dpop.New(o)
	if err != nil {
		return nil, nil, &dualauth.ConfigError{Package: "jwtauth", Field: "DPoP", Reason: err.Error()}
	}
	return c, n, nil
}

// nonces are the server-provided nonces of RFC 9449 §8, without state:
// the nonce of a time window is the HMAC of its number, and a proof may
// carry the current window's or the previous one's.
type nonces struct {
	key    []byte
	window time.Duration
	now    func() time.Time
}

// of is the nonce of window w.
func (n *nonces) of(w int64) string {
	mac := hmac.New(sha256.New, n.key)
	mac.Write(binary.BigEndian.AppendUint64(nil, uint64(w)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:24])
}

// current is the window now is in.
func (n *nonces) current() int64 { return n.now().UnixNano() / int64(n.window) }

// fresh is the nonce to give clients now.
func (n *nonces) fresh() string { return n.of(n.current()) }

// valid reports whether a proof's nonce is the current window's or the
// previous one's.
func (n *nonces) valid(nonce string) bool {
	w := n.current()
	return hmac.Equal([]byte(nonce), []byte(n.of(w))) || hmac.Equal([]byte(nonce), []byte(n.of(w-1)))
}

// DPoPAlgorithms returns, when DPoP is on (Config.DPoP), the algorithms a
// proof may be signed with, space-separated, for the algs of the DPoP
// challenge (RFC 9449 §7.1), and whether DPoP is required; "" and false
// without DPoP. package dualauth reads it: it reads `Authorization: DPoP`
// only from a verifier that returns algs.
func (v *Verifier) DPoPAlgorithms() (algs string, required bool) {
	if v.proofs == nil {
		return "", false
	}
	return v.proofs.Algorithms(), v.dpopRequired
}

// checkBinding holds a verified token to its binding: from the DPoP
// scheme, a proof signed with its DPoP key (bound.jkt) for this request;
// from any other, the client certificate bound.x5t names (see
// CertificateBound), or no binding at all. (With DPoP required the core
// reads no Bearer: see DPoP.Required.)
func (v *Verifier) checkBinding(ctx context.Context, raw string, bound binding, from dualauth.Origin) error {
	if bound.x5t != "" && !from.DPoP() {
		return v.checkCertificate(bound.x5t, from)
	}
	jkt, r := bound.jkt, from.Request()
	switch {
	case !from.DPoP() && jkt != "":
		return bindingRefusal("the access token is bound to a DPoP key (cnf.jkt): send it with the DPoP scheme and a DPoP proof")
	case !from.DPoP():
		return nil
	case jkt == "":
		return bindingRefusal("the access token is not bound to a DPoP key (no cnf.jkt): it cannot be sent with the DPoP scheme")
	case v.proofs == nil || r == nil: // not reached: the core reads DPoP only from a verifier that checks proofs
		return bindingRefusal("DPoP proofs are not checked here")
	}
	_, err := v.proofs.Check(ctx, dpop.Request{
		Proofs: r.Header.Values("DPoP"), Method: r.Method, URI: from.URI(), AccessToken: raw, BoundTo: jkt,
	})
	var e *dpop.Error
	if !errors.As(err, &e) {
		return err // nil
	}
	refused := &dualauth.Error{Status: e.Status, Code: e.Code, Description: e.Description, RetryAfter: e.RetryAfter, Err: e}
	if e.Code == dpop.CodeUseNonce && v.nonces != nil {
		refused.Header = http.Header{"Dpop-Nonce": {v.nonces.fresh()}}
	}
	return refused
}

// bindingRefusal is the 401 invalid_token of a token sent in the wrong
// scheme for its binding.
func bindingRefusal(description string) *dualauth.Error {
	return &dualauth.Error{Status: http.StatusUnauthorized, Code: dualauth.CodeInvalidToken, Description: description,
		Err: errors.New("jwtauth: " + description)}
}
