package clients

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/scopes"
)

// Errors of Verify. Every failed verification wraps ErrInvalidClient and
// exactly one of ErrUnknownClient, ErrWrongSecret and ErrDisabled, in an
// error of the same type whatever the cause. Answer callers by
// ErrInvalidClient alone (as OAuth's invalid_client); the causes are for
// logs, and telling them apart to a caller would let it enumerate client ids.
var (
	// ErrInvalidClient is wrapped by every error of a failed Verify. It is
	// dualauth.ErrInvalidClient, which a clientauth.Verifier wraps when
	// the pair is not good.
	ErrInvalidClient = dualauth.ErrInvalidClient
	// ErrUnknownClient is the cause when no client has the id (or the id is
	// empty or longer than MaxClientIDBytes).
	ErrUnknownClient = errors.New("unknown client_id")
	// ErrWrongSecret is the cause when the secret does not match (or is empty,
	// longer than MaxSecretBytes, or longer than MaxBcryptSecretBytes for a
	// bcrypt entry). It is also the cause for a disabled client given a wrong
	// secret.
	ErrWrongSecret = errors.New("wrong client_secret")
	// ErrDisabled is the cause when the secret matches but the client is
	// disabled.
	ErrDisabled = errors.New("client disabled")
)

// ErrBusy is Verify's error when no hash slot freed within
// Options.HashWait: nothing was checked, so it does not wrap
// ErrInvalidClient. Answer it as a temporary failure (HTTP 503 with
// Retry-After), not as a failed authentication.
var ErrBusy = errors.New("clients: busy: every hash slot stayed taken; retry later")

// Verify checks clientID and secret and returns the client. Every failure
// wraps ErrInvalidClient (see there for the causes) and takes one secret
// hash, apart from the cheap refusals below: an unknown id is checked
// against a dummy hash with the algorithm and parameters of the registry's
// most expensive entry, and a disabled client's secret is checked before it
// is refused. And every failure, the cheap refusals included, returns no
// sooner than the registry's failure floor, the longest a check was seen to
// take (measured at load, raised by later checks), so that a wrong secret
// for an entry cheaper than the dummy is not answered sooner than an
// unknown id: neither errors nor response times reveal which ids exist.
// Success is answered as soon as the hash is checked. Waiting out the floor
// holds no hash slot; if ctx ends during it, Verify returns the failure at
// once (the caller has gone, or its deadline passed, which is the same for
// every failure).
//
// Refused without hashing, whatever the registry holds: an empty clientID or
// one longer than MaxClientIDBytes, an empty secret or one longer than
// MaxSecretBytes. A secret longer than MaxBcryptSecretBytes never matches a
// bcrypt entry (it is hashed, then refused): bcrypt reads only 72 bytes, and
// a longer secret whose first 72 bytes match must not pass. Ids and secrets
// are compared byte for byte: no case folding, trimming or Unicode
// normalisation.
//
// Verify waits for one of Options.MaxConcurrentHashes slots, at most
// Options.HashWait: if none frees in time it returns ErrBusy, and if ctx ends first (or has ended) it returns ctx's error.
// Neither wraps ErrInvalidClient: nothing was checked.
func (r *Registry) Verify(ctx context.Context, clientID, secret string) (Client, error) {
	if err := ctx.Err(); err != nil {
		return Client{}, fmt.Errorf("clients: verify: %w", err)
	}
	if err := precheck(clientID, secret); err != nil {
		r.waitFloor(ctx, r.snap.Load(), r.clock.now())
		return Client{}, err
	}
	if err := r.slots.acquire(ctx, r.hashWait); errors.Is(err, ErrBusy) {
		return Client{}, ErrBusy
	} else if err != nil {
		return Client{}, fmt.Errorf("clients: verify: %w", err)
	}
	s := r.snap.Load()
	start := r.clock.now()
	c, err := r.check(s, clientID, secret)
	r.slots.release()
	if err != nil {
		r.waitFloor(ctx, s, start)
		return Client{}, err
	}
	return c, nil
}

// precheck refuses, without hashing, credentials no registry can accept.
func precheck(clientID, secret string) error {
	switch {
	case clientID == "":
		return refuse(ErrUnknownClient, "the client_id is empty")
	case len(clientID) > MaxClientIDBytes:
		return refuse(ErrUnknownClient, fmt.Sprintf("the client_id is longer than %d bytes", MaxClientIDBytes))
	case secret == "":
		return refuse(ErrWrongSecret, "the client_secret is empty")
	case len(secret) > MaxSecretBytes:
		return refuse(ErrWrongSecret, fmt.Sprintf("the client_secret is longer than %d bytes", MaxSecretBytes))
	}
	return nil
}

// VerifyClient makes a Registry a clientauth.Verifier
// (clientauth.Config{Verifier: registry}): it checks the pair with
// Verify, and the caller is the client, with the client's scopes. ErrBusy
// comes wrapped in dualauth.ErrVerifierBusy, answered 503 without counting
// against the caller. A clientauth.Checker drops its cached verifications
// whenever Generation changes.
func (r *Registry) VerifyClient(ctx context.Context, clientID, secret string) (*dualauth.Principal, error) {
	c, err := r.Verify(ctx, clientID, secret)
	if errors.Is(err, ErrBusy) {
		return nil, fmt.Errorf("%w: %w", dualauth.ErrVerifierBusy, err)
	}
	if err != nil {
		return nil, err // ErrInvalidClient, or ctx's error
	}
	return &dualauth.Principal{Method: dualauth.MethodCredentials, Subject: c.ID, ClientID: c.ID, Scopes: scopes.NewSet(c.Scopes...)}, nil
}

// check hashes secret against the entry of clientID, or against the dummy
// for an unknown id, holding a hash slot.
func (r *Registry) check(s *snapshot, clientID, secret string) (Client, error) {
	e := s.clients[clientID]
	if e == nil {
		r.dummyChecks.Add(1)
		r.timedCheck(s, s.dummy, secret)
		return Client{}, refuse(ErrUnknownClient, "")
	}
	r.hashChecks.Add(1)
	ok := r.timedCheck(s, e.hash, secret)
	switch {
	case e.hash.alg == AlgBcrypt && len(secret) > MaxBcryptSecretBytes:
		return Client{}, refuse(ErrWrongSecret, fmt.Sprintf("the client_secret is longer than the %d bytes bcrypt reads", MaxBcryptSecretBytes))
	case !ok:
		return Client{}, refuse(ErrWrongSecret, "")
	case e.client.Disabled:
		return Client{}, refuse(ErrDisabled, "")
	}
	return e.client.clone(), nil
}

// refuse builds Verify's error: always the same type, wrapping
// ErrInvalidClient and cause. detail must not hold the id or the secret.
func refuse(cause error, detail string) error {
	if detail != "" {
		return fmt.Errorf("clients: %w: %w (%s)", ErrInvalidClient, cause, detail)
	}
	return fmt.Errorf("clients: %w: %w", ErrInvalidClient, cause)
}

func (c Client) clone() Client {
	c.Scopes = slices.Clone(c.Scopes)
	return c
}
