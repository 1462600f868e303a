package jwtauth

import (
	"context"
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
// for a proof that fails a check, none or two DPoP headers; invalid_token
// for a bound token sent as Bearer (§7.2: with a Bearer challenge and a
// DPoP one beside) and for a token without cnf.jkt sent as DPoP. A token
// verified before comes from the cache: only the proof is new work.
//
// Without DPoP (Config.DPoP nil) a token with cnf.jkt is refused as any
// bound token is, Bearer or not.
type DPoP struct {
	// Required accepts DPoP-bound tokens only: the Bearer scheme is no
	// longer read (a Bearer token is answered as no credentials, with a
	// DPoP challenge), and a token without cnf.jkt is refused.
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
	// a *redisstore.Store of package internal/throttle/redisstore is one,
	// as config builds it from credentials.throttle.redis. While it cannot
	// answer, DPoP requests are refused 503 temporarily_unavailable with
	// Retry-After (a proof that cannot be recorded could be replayed).
	// Nil means the memory of this process, bounded to 100,000 proofs (a
	// tenth of them per key; past that, 429 for the key, 503 when full).
	// The Verifier does not close it.
	Replay ReplayStore
}

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
	for i, alg := range d.Algorithms {
		if !slices.Contains(jwtverify.DefaultAlgorithms, alg) {
			return fail(fmt.Sprintf("Algorithms[%d]", i), "%s is not one of %s (none and HMAC are never accepted)",
				excerpt.Quote(alg), strings.Join(jwtverify.DefaultAlgorithms, ", "))
		}
	}
	return nil
}

// newProofChecker is the DPoP proof checker of cfg, nil without DPoP.
func newProofChecker(cfg Config) (*dpop.Checker, error) {
	d := cfg.DPoP
	if d == nil {
		return nil, nil
	}
	c, err := dpop.New(dpop.Options{Algorithms: d.Algorithms, MaxAge: d.MaxAge, Leeway: cfg.Leeway, Shared: d.Replay, Now: cfg.Now})
	if err != nil {
		return nil, &dualauth.ConfigError{Package: "jwtauth", Field: "DPoP", Reason: err.Error()}
	}
	return c, nil
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

// checkBinding holds a verified token, bound to the DPoP key jkt ("" for
// none), to its binding: from the DPoP scheme, a proof signed with that
// key for this request; from any other, no binding at all (and none with
// DPoP required).
func (v *Verifier) checkBinding(ctx context.Context, raw, jkt string, from dualauth.Origin) error {
	r := from.Request()
	switch {
	case !from.DPoP() && jkt != "":
		return bindingRefusal("the access token is bound to a DPoP key (cnf.jkt): send it with the DPoP scheme and a DPoP proof")
	case !from.DPoP() && v.dpopRequired:
		return bindingRefusal("this API accepts only DPoP-bound access tokens, sent with the DPoP scheme")
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
	return &dualauth.Error{Status: e.Status, Code: e.Code, Description: e.Description, RetryAfter: e.RetryAfter, Err: e}
}

// bindingRefusal is the 401 invalid_token of a token sent in the wrong
// scheme for its binding.
func bindingRefusal(description string) *dualauth.Error {
	return &dualauth.Error{Status: http.StatusUnauthorized, Code: dualauth.CodeInvalidToken, Description: description,
		Err: errors.New("jwtauth: " + description)}
}
