package authserver

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
)

// clientAuth authenticates clients against the registry exactly as
// Keyward's resource side checks client credentials — the same verified-pair
// cache, failure throttle and bounds on checks in flight — by way of a
// credentials-mode dualauth.Authenticator on the server's clock.
type clientAuth struct {
	auth     *dualauth.Authenticator
	registry *clients.Registry
}

// newClientAuth builds the client authentication of a server on the clock
// now. afterVerify, if not nil, runs after each successful check of a secret
// against the registry, before the outcome is used (tests: a reload in the
// middle of a verification).
func newClientAuth(registry *clients.Registry, now func() time.Time, afterVerify func(id string)) (*clientAuth, error) {
	var verifier clientauth.Verifier = registry
	if gv, ok := verifier.(generationVerifier); ok && afterVerify != nil {
		verifier = hookedVerifier{gv, afterVerify}
	}
	checker, err := clientauth.New(clientauth.Config{Verifier: verifier, Now: now})
	if err != nil {
		return nil, err
	}
	a, err := dualauth.New(dualauth.Config{Mode: dualauth.ModeCredentials, Clients: checker})
	if err != nil {
		return nil, err
	}
	return &clientAuth{auth: a, registry: registry}, nil
}

// authenticate returns the client whose id and secret these are, or the
// refusal, whose cause is for logs. addr is the caller's address (see
// clientAddr), which failures are counted against.
//
// A client is only ever returned as the registry holds it after its secret
// was checked: one that a reload disabled or removed while the check ran is
// refused, and one whose scopes changed gets the new scopes.
func (a *clientAuth) authenticate(ctx context.Context, id, secret, addr string) (clients.Client, *oauthError) {
	p, err := a.auth.VerifyClient(ctx, id, secret, addr)
	if err == nil {
		if c, ok := a.registry.Lookup(p.ClientID); ok && !c.Disabled {
			return c, nil
		}
		e := errInvalidClient("client authentication failed")
		e.cause = errors.New("the client was disabled or removed by a registry reload while its secret was checked")
		return clients.Client{}, e
	}
	var de *dualauth.Error
	errors.As(err, &de)
	var e *oauthError
	switch {
	case de != nil && de.Status == http.StatusTooManyRequests:
		e = errThrottled(de.RetryAfter)
	case de != nil && de.Code == dualauth.CodeInvalidClient:
		e = errInvalidClient("client authentication failed")
	default:
		e = errUnavailable()
	}
	e.cause = err
	return clients.Client{}, e
}

// generationVerifier is a clientauth.Verifier whose cached answers are dropped
// when its generation changes, as a clients.Registry's are.
type generationVerifier interface {
	clientauth.Verifier
	Generation() uint64
}

// hookedVerifier runs after after every successful verification.
type hookedVerifier struct {
	generationVerifier
	after func(id string)
}

func (v hookedVerifier) VerifyClient(ctx context.Context, id, secret string) (*dualauth.Principal, error) {
	p, err := v.generationVerifier.VerifyClient(ctx, id, secret)
	if err == nil {
		v.after(id)
	}
	return p, err
}
