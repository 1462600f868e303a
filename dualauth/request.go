package dualauth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/keyward/keyward/scopes"
)

// Authenticate finds the credentials in r that a's mode accepts, verifies
// them and returns the caller. Every failure is an *Error; Refusal says how
// to answer it.
//
// Bearer tokens are read only from the Authorization header (RFC 6750 §2.1):
// one in the URI query is refused with invalid_request, one in a form body is
// not looked for. Client credentials are read from the two client headers or
// from HTTP Basic, whose id and secret are form-urlencoded before base64 (RFC
// 6749 §2.3.1). Scheme names are case-insensitive (RFC 7235 §2.1).
//
// A method the mode does not accept counts as no credentials. A request that
// carries two accepted methods at once (Bearer and client headers, Basic and
// client headers), two Authorization headers, or half a client pair is
// invalid_request: the authenticator never guesses which was meant.
//
// The request is counted in keyward.requests, with a span, unless its
// context already holds a Principal a verified (see Config.MeterProvider).
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	if a.decided(ctx) {
		p, _, err := a.authenticate(ctx, r)
		return p, err
	}
	ctx, span := a.tel.Start(ctx)
	p, method, err := a.authenticate(ctx, r)
	a.tel.request(span, method, p, err)
	return p, err
}

// decided reports whether ctx holds a Principal a's core verified: the
// request was counted then.
func (a *Authenticator) decided(ctx context.Context) bool {
	p, ok := FromContext(ctx)
	return ok && p.by == a.core
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
	if jwtOK && hasQueryToken(r.URL) {
		return nil, methodJWT, errInvalidRequest("access tokens are accepted only in the Authorization header")
	}

	var bearer, basic string
	var hasBearer, hasBasic bool
	if len(values) == 1 {
		switch kind, cred := a.authorization(values[0]); kind {
		case credBearer:
			bearer, hasBearer = cred, true
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
		p, err := a.verify(ctx, bearer, true)
		return p, methodJWT, err
	case hasBasic:
		var e *Error
		if id, secret, e = parseBasic(basic); e != nil {
			return nil, methodCredentials, e
		}
	case !hasHeaders:
		return nil, methodNone, errNoCredentials()
	}
	p, err := a.checkClient(ctx, id, secret, a.clientAddr(r))
	return p, methodCredentials, err
}

// credentialKind is the kind of credentials a request presents.
type credentialKind uint8

const (
	credNone    credentialKind = iota // none a's mode reads, or not one kind
	credBearer                        // Authorization: Bearer
	credBasic                         // Authorization: Basic
	credHeaders                       // the client id and secret headers
)

// authorization reads v, the request's one Authorization value: the scheme
// a's mode accepts it in (credBearer or credBasic) and its credentials, or
// credNone. Scheme names are case-insensitive (RFC 9110 §11.1).
func (a *Authenticator) authorization(v string) (credentialKind, string) {
	scheme, rest, _ := strings.Cut(v, " ")
	switch {
	case a.bearer != "" && strings.EqualFold(scheme, "Bearer"):
		return credBearer, strings.TrimLeft(rest, " ")
	case a.basic != "" && strings.EqualFold(scheme, "Basic"):
		return credBasic, strings.TrimLeft(rest, " ")
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
// keyward.requests, with a span, with the outcome of both checks; one that
// holds one was counted when it was verified (see Config.MeterProvider).
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
	p, method, err := a.authorize(ctx, r, req)
	if !counted {
		a.tel.request(span, method, p, err)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// authorize authenticates r with ctx and checks the caller's scopes; p is
// the verified caller even when err refuses its scopes.
func (a *Authenticator) authorize(ctx context.Context, r *http.Request, req scopes.Requirement) (p *Principal, method authMethod, err error) {
	p, method, err = a.authenticate(ctx, r)
	if err == nil {
		err = p.Require(req)
	}
	return p, method, err
}

// parseBasic decodes HTTP Basic credentials as RFC 6749 §2.3.1 sends them:
// base64 of form-urlencoded id ":" form-urlencoded secret.
func parseBasic(credentials string) (id, secret string, e *Error) {
	raw, err := base64.StdEncoding.DecodeString(credentials)
	if err != nil {
		return "", "", errInvalidRequest("the Basic credentials are not base64")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errInvalidRequest("the Basic credentials have no ':' between client id and secret")
	}
	if id, err = url.QueryUnescape(rawID); err == nil {
		secret, err = url.QueryUnescape(rawSecret)
	}
	if err != nil {
		return "", "", errInvalidRequest("the Basic credentials are not form-urlencoded (RFC 6749 §2.3.1)")
	}
	if id == "" || secret == "" {
		return "", "", errInvalidRequest("the Basic credentials have an empty client id or secret")
	}
	return id, secret, nil
}

// hasQueryToken reports whether the URI query carries an access_token
// parameter (RFC 6750 §2.3), which this server does not accept. Pairs split
// on '&' or ';' are each looked at, with the name unescaped where it can be,
// so that neither encoding tricks nor a malformed neighbour hide one.
func hasQueryToken(u *url.URL) bool {
	if u == nil || u.RawQuery == "" {
		return false
	}
	for pair := range strings.FieldsFuncSeq(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		name, _, _ := strings.Cut(pair, "=")
		if unescaped, err := url.QueryUnescape(name); err == nil {
			name = unescaped
		}
		if strings.EqualFold(strings.TrimSpace(name), "access_token") {
			return true
		}
	}
	return false
}

// notToken68At is the offset of the first byte of s that breaks the
// b64token syntax of RFC 6750 §2.1,
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", 0 when s is empty or only padding, and -1 when s has
// the syntax.
func notToken68At(s string) int {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return 0
	}
	for i := 0; i < end; i++ {
		if !token68Chars[s[i]] {
			return i
		}
	}
	return -1
}

// token68Chars are the bytes of b64token before its "=" padding.
var token68Chars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()
