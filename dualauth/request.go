package dualauth

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/keyward/keyward/internal/authheader"
	"github.com/keyward/keyward/scopes"
)

// Authenticate finds the credentials in r that a's mode accepts, verifies
// them and returns the caller. Every failure is an *Error; Refusal says how
// to answer it.
//
// Bearer tokens are read only from the Authorization header (RFC 6750 §2.1):
// one in the URI query is invalid_request, one in a form body is not looked
// for. Client credentials are read from the two client headers or HTTP Basic
// (id and secret form-urlencoded, RFC 6749 §2.3.1). A method the mode does
// not accept counts as no credentials. Two accepted methods at once, two
// Authorization headers or half a client pair are invalid_request: the
// authenticator never guesses which was meant.
//
// The request is counted in keyward.requests, with a span, unless its
// context already holds a Principal a verified (see Config.MeterProvider).
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	if held, ok := FromContext(ctx); ok && held.by == a.core { // counted when it was verified
		p, _, err := a.authenticate(ctx, r)
		return p, err
	}
	ctx, span := a.tel.Start(ctx)
	p, method, err := a.authenticate(ctx, r)
	a.tel.request(span, method, p, err)
	return p, err
}

// authenticate is Authenticate with the request's context ctx; method is
// the kind of credentials r presented (methodNone when none, or when it
// presented several kinds or a malformed Authorization).
func (a *Authenticator) authenticate(ctx context.Context, r *http.Request) (_ *Principal, method authMethod, _ error) {
	mode := a.mode
	jwtOK, credOK := mode.allowsJWT(), mode.allowsCredentials()
	values := r.Header.Values("Authorization")
	if len(values) > 1 {
		return nil, methodNone, errInvalidRequest("the request has more than one Authorization header")
	}
	if jwtOK && authheader.HasQueryToken(r.URL) {
		return nil, methodJWT, errInvalidRequest("access tokens are accepted only in the Authorization header")
	}

	var bearer, basic string
	var hasBearer, hasBasic, dpop bool
	if len(values) == 1 {
		switch kind, cred := a.authorization(values[0]); kind {
		case credBearer, credDPoP:
			bearer, hasBearer, dpop = cred, true, kind == credDPoP
		case credBasic:
			basic, hasBasic = cred, true
		}
	}
	var id, secret string
	hasHeaders := false
	if credOK {
		ids, secrets := r.Header.Values(a.idHeader), r.Header.Values(a.secretHeader)
		if len(ids) > 1 || len(secrets) > 1 {
			return nil, methodCredentials, errInvalidRequest("the request repeats a client credential header")
		}
		if len(ids)+len(secrets) > 0 {
			hasHeaders = true
			if len(ids) == 0 || ids[0] == "" {
				return nil, methodCredentials, errInvalidRequest("the " + a.idHeader + " header is missing or empty")
			}
			if len(secrets) == 0 || secrets[0] == "" {
				return nil, methodCredentials, errInvalidRequest("the " + a.secretHeader + " header is missing or empty")
			}
			id, secret = ids[0], secrets[0]
		}
	}

	switch {
	case hasHeaders && (hasBearer || hasBasic):
		return nil, methodNone, errInvalidRequest("the request carries more than one kind of credentials")
	case hasBearer:
		if bearer == "" {
			return nil, methodJWT, errInvalidRequest("the Bearer credentials are empty")
		}
		p, err := a.verify(ctx, bearer, Origin{a: a, r: r, dpop: dpop}, true)
		return p, methodJWT, err
	case hasBasic:
		var problem string
		if id, secret, problem = authheader.ParseBasic(basic); problem != "" {
			return nil, methodCredentials, errInvalidRequest(problem)
		}
	case !hasHeaders:
		return nil, methodNone, &Error{Status: http.StatusUnauthorized, Description: answers[""].description}
	}
	p, err := a.checkClient(ctx, id, secret, a.trustedProxies.KeyOf(r, a.addrFunc))
	return p, methodCredentials, err
}

// credentialKind is the kind of credentials a request presents.
type credentialKind uint8

const (
	credNone    credentialKind = iota // none a's mode reads, or not one kind
	credBearer                        // Authorization: Bearer
	credBasic                         // Authorization: Basic
	credHeaders                       // the client id and secret headers
	credDPoP                          // Authorization: DPoP (RFC 9449 §7.1)
)

// authorization reads v, the request's one Authorization value: the scheme
// a's mode accepts it in (credBearer, credDPoP or credBasic) and its credentials, or
// credNone. Scheme names are case-insensitive (RFC 9110 §11.1).
func (a *Authenticator) authorization(v string) (credentialKind, string) {
	scheme, rest, _ := strings.Cut(v, " ")
	switch {
	case a.bearer != "" && strings.EqualFold(scheme, "Bearer"):
		return credBearer, strings.TrimLeft(rest, " ")
	case a.basic != "" && strings.EqualFold(scheme, "Basic"):
		return credBasic, strings.TrimLeft(rest, " ")
	case a.dpop != "" && strings.EqualFold(scheme, "DPoP"):
		return credDPoP, strings.TrimLeft(rest, " ")
	}
	return credNone, ""
}

// presentedKind is the kind of credentials r presents that a's mode reads,
// as Authenticate would find them: an accepted Authorization scheme, else
// the client id header; credNone for a nil r.
func (a *Authenticator) presentedKind(r *http.Request) credentialKind {
	if r == nil {
		return credNone
	}
	if values := r.Header.Values("Authorization"); len(values) == 1 {
		if kind, _ := a.authorization(values[0]); kind != credNone {
			return kind
		}
	}
	if a.mode.allowsCredentials() && a.clients != nil && len(r.Header.Values(a.idHeader)) > 0 {
		return credHeaders
	}
	return credNone
}

// Preflight reports whether r is a CORS preflight request (OPTIONS with
// Origin and Access-Control-Request-Method headers) and preflights pass
// unauthenticated, as they do unless Config.AuthenticatePreflight is set:
// browsers send them without credentials, and the CORS handler in front of
// the route answers them. Middleware lets such requests through without a
// Principal.
func (a *Authenticator) Preflight(r *http.Request) bool {
	return !a.authenticatePreflight && r.Method == http.MethodOptions &&
		r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// Authorize returns the caller of r if its scopes meet req: the Principal
// already in r's context (NewContext) when this Authenticator, in any mode,
// verified it with a method a's mode accepts — so a route behind
// Authenticate and Authorize verifies once — else the one Authenticate
// finds. A caller whose scopes fall short gets the insufficient_scope
// *Error of Principal.Require.
//
// A request whose context holds no Principal a verified is counted in
// keyward.requests, with a span (see Config.MeterProvider).
func (a *Authenticator) Authorize(r *http.Request, req scopes.Requirement) (*Principal, error) {
	ctx := r.Context()
	held, ok := FromContext(ctx)
	if ok && held.by == a.core && a.mode.allows(held.Method) {
		if err := held.Require(req); err != nil {
			return nil, err
		}
		return held, nil
	}
	// A Principal of a method this mode does not take: the request was
	// counted when it was verified.
	counted := ok && held.by == a.core
	var span trace.Span
	if !counted {
		ctx, span = a.tel.Start(ctx)
	}
	p, method, err := a.authenticate(ctx, r)
	if err == nil {
		err = p.Require(req) // p stays the verified caller, for the telemetry
	}
	if !counted {
		a.tel.request(span, method, p, err)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}
