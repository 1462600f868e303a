package dualauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/scopes"
)

// RegistryVerifier checks client credentials against a registry of hashed
// secrets. The caller's scopes are the client's scopes in the registry;
// cached verifications are dropped whenever the registry reloads a change.
func RegistryVerifier(r *clients.Registry) ClientVerifier { return registryVerifier{r} }

type registryVerifier struct{ r *clients.Registry }

func (v registryVerifier) VerifyClient(ctx context.Context, id, secret string) (*Principal, error) {
	c, err := v.r.Verify(ctx, id, secret)
	switch {
	case errors.Is(err, clients.ErrInvalidClient):
		return nil, fmt.Errorf("%w: %w", ErrInvalidClient, err)
	case errors.Is(err, clients.ErrBusy):
		return nil, fmt.Errorf("%w: %w", errVerifierBusy, err)
	}
	if err != nil {
		return nil, err
	}
	return &Principal{Method: MethodCredentials, Subject: c.ID, ClientID: c.ID, Scopes: scopes.NewSet(c.Scopes...)}, nil
}

func (v registryVerifier) Generation() uint64 { return v.r.Generation() }

// exchangeVerify trades client credentials for an access token at the token
// endpoint and verifies it like a Bearer token.
func (a *Authenticator) exchangeVerify(ctx context.Context, id, secret string) (*Principal, error) {
	tok, err := a.exchange.Exchange(ctx, id, secret)
	if errors.Is(err, exchange.ErrRejected) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidClient, err)
	}
	if err != nil {
		return nil, err
	}
	p, err := a.Verify(ctx, tok.AccessToken)
	if err != nil {
		// The endpoint issued a token this server does not accept: a
		// configuration fault, not the client's.
		return nil, errUnavailable(fmt.Errorf("dualauth: the exchanged token did not verify: %w", err))
	}
	if p.ClientID != "" && p.ClientID != id {
		return nil, errUnavailable(errors.New("dualauth: the exchanged token names another client"))
	}
	p.Method = MethodCredentials
	p.ClientID = id
	return p, nil
}
