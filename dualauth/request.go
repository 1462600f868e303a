package dualauth

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/keyward/keyward/internal/authheader"
	"github.com/keyward/keyward/internal/telemetry"
	"github.com/keyward/keyward/scopes"
)

// Authenticate finds the credentials in r that a's mode accepts, verifies
// them and returns the caller; every failure is an *Error (see Refusal).
//
// Tokens are read only from the Authorization header (Bearer, or DPoP when
// Config.Tokens checks proofs): one in the URI query is invalid_request,
// one in a form body is not looked for. Client credentials are read from
// the two client headers or HTTP Basic (RFC 6749 §2.3.1). A method the mode
// does not accept counts as no credentials; two accepted methods at once,
// two Authorization headers or half a client pair are invalid_request,
// never a guess. The request is counted in keyward.requests, with a span,
// unless its context already holds a Principal a verified (see
// Config.MeterProvider).
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	return a.decide(r, nil)
}

// decide authenticates r and checks the caller with check (if not nil),
// counting the request in keyward.requests with a span unless r's context
// holds a Principal a verified (counted when it was verified).
func (a *Authenticator) decide(r *http.Request, check func(*Principal) error) (*Principal, error) {
	ctx := r.Context()
	held, ok := FromContext(ctx)
	counted := ok && held.by == a.core
	var span trace.Span
	if !counted {
		ctx, span = a.tel.Start(ctx)
	}
	p, method, err := a.authenticate(ctx, r)
	if err == nil && check != nil {
		err = check(p) // p stays the verified caller, for the telemetry
	}
	if !counted {
		a.tel.request(span, method, p, err)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// authenticate is Authenticate with the request's context ctx; method is
// the kind of credentials r presented (telemetry.None when none, or when it
// presented several kinds or a malformed Authorization).
func (a *Authenticator) authenticate(ctx context.Context, r *http.Request) (_ *Principal, method telemetry.Method, _ error) {
	mode := a.mode
	jwtOK, credOK := mode.allowsJWT(), mode.allowsCredentials()
	values := r.Header.Values("Authorization")
	if len(values) > 1 {
		return nil, telemetry.None, errInvalidRequest("the request has more than one Authorization header")
	}
	if jwtOK && authheader.HasQueryToken(r.URL) {
		return nil, telemetry.JWT, errInvalidRequest("access tokens are accepted only in the Authorization header")
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
	var id, secret, problem string
	hasHeaders := false
	if credOK {
		id, secret, hasHeaders, problem = authheader.ClientHeaders(r.Header, a.idHeader, a.secretHeader)
		if problem != "" {
			return nil, telemetry.Credentials, errInvalidRequest(problem)
		}
	}

	switch {
	case hasHeaders && (hasBearer || hasBasic):
		return nil, telemetry.None, errInvalidRequest("the request carries more than one kind of credentials")
	case hasBearer:
		if bearer == "" {
			return nil, telemetry.JWT, errInvalidRequest("the Bearer credentials are empty")
		}
		p, err := a.verify(ctx, bearer, Origin{a: a, r: r, dpop: dpop}, true)
		return p, telemetry.JWT, err
	case hasBasic:
		if id, secret, problem = authheader.ParseBasic(basic); problem != "" {
			return nil, telemetry.Credentials, errInvalidRequest(problem)
		}
	case !hasHeaders:
		return nil, telemetry.None, &Error{Status: http.StatusUnauthorized, Description: answers[""].description}
	}
	p, err := a.checkClient(ctx, id, secret, a.trustedProxies.KeyOf(r, a.addrFunc))
	return p, telemetry.Credentials, err
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
// a's mode accepts it in (credBearer, credDPoP or credBasic) and its
// credentials, or credNone. Scheme names are case-insensitive (RFC 9110
// §11.1).
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
// the route answers them; middleware passes them without a Principal.
func (a *Authenticator) Preflight(r *http.Request) bool {
	return !a.authenticatePreflight && r.Method == http.MethodOptions &&
		r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// Authorize returns the caller of r if its scopes meet req: the Principal
// already in r's context (NewContext) when this Authenticator, in any mode,
// verified it with a method a's mode accepts — so a route behind
// Authenticate and Authorize verifies once — else the one Authenticate
// finds. A caller whose scopes fall short gets the insufficient_scope
// *Error of Principal.Require. A request whose context holds no Principal
// a verified is counted in keyward.requests, with a span (see
// Config.MeterProvider).
func (a *Authenticator) Authorize(r *http.Request, req scopes.Requirement) (*Principal, error) {
	held, ok := FromContext(r.Context())
	if ok && held.by == a.core && a.mode.allows(held.Method) {
		if err := held.Require(req); err != nil {
			return nil, err
		}
		return held, nil
	}
	return a.decide(r, func(p *Principal) error { return p.Require(req) })
}
