package authserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
)

// clientAuth authenticates clients against the registry exactly as
// Keyward's resource side checks client credentials — the same verified-pair
// cache, failure throttle and bounds on checks in flight — by way of a
// credentials-mode dualauth.Authenticator.
type clientAuth struct {
	auth     *dualauth.Authenticator
	registry *clients.Registry
}

func newClientAuth(registry *clients.Registry) (*clientAuth, error) {
	a, err := dualauth.New(dualauth.Config{
		Mode:        dualauth.ModeCredentials,
		Credentials: dualauth.Credentials{Verifier: dualauth.RegistryVerifier(registry)},
	})
	if err != nil {
		return nil, err
	}
	return &clientAuth{auth: a, registry: registry}, nil
}

// authenticate returns the client whose id and secret these are, or the
// refusal, whose cause is for logs. remote is the request's RemoteAddr.
func (a *clientAuth) authenticate(ctx context.Context, id, secret, remote string) (clients.Client, *oauthError) {
	p, err := a.auth.VerifyClient(ctx, id, secret, remote)
	if err == nil {
		// The registry's entry keeps its scopes in the file's order.
		if c, ok := a.registry.Lookup(p.ClientID); ok && !c.Disabled {
			return c, nil
		}
		return clients.Client{ID: p.ClientID, Scopes: p.Scopes}, nil
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
