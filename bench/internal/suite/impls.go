package suite

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	auth0jwks "github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/golang-jwt/jwt/v5"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/middleware/echokw"
	"github.com/keyward/keyward/scopes"
)

// The implementations, in the order benchmarks run them (the anchor first,
// so that benchstat -col /impl compares everything with it).
const (
	// ImplAnchor is Echo + github.com/labstack/echo-jwt/v4 with a
	// github.com/MicahParks/keyfunc/v3 key function: the anchor of the
	// issue's goals.
	ImplAnchor = "echojwt-keyfunc"
	// ImplAuth0 is net/http + github.com/auth0/go-jwt-middleware/v2 with its
	// caching JWKS provider and validator.
	ImplAuth0 = "auth0-gojwtmw"
	// ImplKeywardNetHTTP is Keyward's net/http middleware on a ServeMux.
	ImplKeywardNetHTTP = "keyward-nethttp"
	// ImplKeywardEcho is Keyward's Echo adapter (middleware/echokw).
	ImplKeywardEcho = "keyward-echo"
)

// Impls lists every implementation; Peers those that are not Keyward.
var (
	Impls = []string{ImplAnchor, ImplAuth0, ImplKeywardNetHTTP, ImplKeywardEcho}
	Peers = []string{ImplAnchor, ImplAuth0}
)

// Trust is what every implementation is configured with: the same issuer,
// audience and JWK Set URL (each implementation fetches and caches the set
// with its own client).
type Trust struct {
	Issuer   string
	JWKSURL  string
	Audience string
	// Clients, if set, turns on client credentials (mode dual) for Keyward;
	// the peers have no such thing.
	Clients *clients.Registry
	// CredentialsCacheTTL is clientauth.Config.CacheTTL: 0 means the
	// default (5 minutes), negative turns the cache of verified pairs off.
	CredentialsCacheTTL time.Duration
	// EditKeyward, if set, changes the config of Keyward's JWT method
	// before jwtauth.New.
	EditKeyward func(*jwtauth.Config)
}

// Server is a built implementation: its handler and what stops its
// background work (key refreshes).
type Server struct {
	Name    string
	Handler http.Handler
	Close   func()
}

// Build builds implementation name on t. alg is the one algorithm
// go-jwt-middleware's validator accepts (it takes exactly one); the others
// accept all of Algs. It returns once the implementation holds the keys, so
// that no request pays for the first JWKS fetch.
func Build(ctx context.Context, name string, t Trust, alg string) (*Server, error) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		h       http.Handler
		closeFn func()
		err     error
	)
	switch name {
	case ImplAnchor:
		h, err = buildAnchor(ctx, t)
	case ImplAuth0:
		h, err = buildAuth0(ctx, t, alg)
	case ImplKeywardNetHTTP, ImplKeywardEcho:
		var a *dualauth.Authenticator
		a, err = NewKeyward(ctx, t)
		if err == nil {
			closeFn = func() { _ = a.Close() }
			if name == ImplKeywardNetHTTP {
				h = KeywardNetHTTP(a)
			} else {
				h = KeywardEcho(a)
			}
		}
	default:
		err = fmt.Errorf("suite: unknown implementation %q (want one of %s)", name, strings.Join(Impls, ", "))
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Server{Name: name, Handler: h, Close: func() {
		if closeFn != nil {
			closeFn()
		}
		cancel()
	}}, nil
}

// ---- handlers shared by every implementation ----

var (
	jsonType     = []string{"application/json"}
	bookingsBody = []byte(`{"bookings":[]}` + "\n")
	whoamiBody   = []byte(`{"authenticated":true}` + "\n")
)

// respond writes a fixed JSON body without allocating, so that the handler
// costs the same, next to nothing, behind every implementation.
func respond(w http.ResponseWriter, body []byte) {
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// hasScope reports whether the space-delimited scope claim s holds want
// (exact match), without allocating: the check the peers' docs leave to the
// application (Auth0's quickstart splits the "scope" claim on spaces).
func hasScope(s, want string) bool {
	for f := range strings.FieldsSeq(s) {
		if f == want {
			return true
		}
	}
	return false
}

// ---- Keyward ----

// NewKeyward builds a Keyward Authenticator on t: a jwks.Remote on the JWKS
// URL and the default config, in mode jwt, or dual when t.Clients is set.
func NewKeyward(ctx context.Context, t Trust) (*dualauth.Authenticator, error) {
	keys, err := jwks.NewRemote(ctx, t.JWKSURL, jwks.Options{})
	if err != nil {
		return nil, err
	}
	jwtCfg := jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: t.Issuer, Audiences: []string{t.Audience}, Keys: keys}}}
	if t.EditKeyward != nil {
		t.EditKeyward(&jwtCfg)
	}
	tokens, err := jwtauth.New(jwtCfg) // closes keys if it fails
	if err != nil {
		return nil, err
	}
	cfg := dualauth.Config{Mode: dualauth.ModeJWT, Realm: "bookings-api", Tokens: tokens}
	if t.Clients != nil {
		checker, err := clientauth.New(clientauth.Config{Verifier: t.Clients, CacheTTL: t.CredentialsCacheTTL})
		if err != nil {
			_ = tokens.Close()
			return nil, err
		}
		cfg.Mode, cfg.Clients = dualauth.ModeDual, checker
	}
	a, err := dualauth.New(cfg) // closes Tokens and Clients if it fails
	if err != nil {
		return nil, err
	}
	if st := a.KeyStatus()[t.Issuer]; st.Keys == 0 {
		_ = a.Close()
		return nil, fmt.Errorf("keyward: no keys fetched from %s (%v)", t.JWKSURL, st.LastError)
	}
	return a, nil
}

// KeywardNetHTTP serves the routes on a ServeMux behind Keyward's net/http
// middleware, as the README shows.
func KeywardNetHTTP(a *dualauth.Authenticator) http.Handler {
	kw := middleware.New(a, middleware.Options{})
	mux := http.NewServeMux()
	mux.Handle("GET "+BookingsRoute, kw.Require(scopes.All(Scope))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respond(w, bookingsBody)
	})))
	mux.Handle("GET "+WhoamiRoute, kw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respond(w, whoamiBody)
	})))
	return mux
}

// KeywardEcho serves the routes on Echo behind Keyward's Echo adapter.
func KeywardEcho(a *dualauth.Authenticator) http.Handler {
	ek := echokw.New(middleware.New(a, middleware.Options{}), echokw.Options{})
	e := echo.New()
	e.GET(BookingsRoute, func(c echo.Context) error {
		respond(c.Response(), bookingsBody)
		return nil
	}, ek.Require(scopes.All(Scope)))
	e.GET(WhoamiRoute, func(c echo.Context) error {
		respond(c.Response(), whoamiBody)
		return nil
	}, ek.Authenticate())
	return e
}

// ---- the anchor: Echo + echo-jwt v4 + keyfunc v3 ----

// anchorClaims are the claims echo-jwt parses into (echo-jwt's docs: a
// struct embedding jwt.RegisteredClaims, given through the parse function).
type anchorClaims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// buildAnchor follows keyfunc v3's README (keyfunc.NewDefaultCtx on the
// JWK Set URL: a jwkset HTTP client that refreshes in the background and on
// unknown kids) and echo-jwt's Config. echo-jwt's default parse function
// checks only the signature and the time claims, so, as its docs offer for
// anything more, ParseTokenFunc parses with golang-jwt's own validation
// options: the algorithm allowlist, iss, aud, exp required and the same
// leeway as Keyward. The scope is checked by a route middleware reading
// the token echo-jwt stored under "user".
func buildAnchor(ctx context.Context, t Trust) (http.Handler, error) {
	k, err := keyfunc.NewDefaultCtx(ctx, []string{t.JWKSURL})
	if err != nil {
		return nil, err
	}
	if all, err := k.Storage().KeyReadAll(ctx); err != nil || len(all) == 0 {
		return nil, fmt.Errorf("keyfunc: no keys fetched from %s (%v)", t.JWKSURL, err)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(Algs),
		jwt.WithIssuer(t.Issuer),
		jwt.WithAudience(t.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(Leeway),
	)
	auth := echojwt.WithConfig(echojwt.Config{
		KeyFunc: k.Keyfunc,
		ParseTokenFunc: func(c echo.Context, auth string) (any, error) {
			return parser.ParseWithClaims(auth, &anchorClaims{}, k.Keyfunc)
		},
	})
	e := echo.New()
	e.GET(BookingsRoute, func(c echo.Context) error {
		respond(c.Response(), bookingsBody)
		return nil
	}, auth, anchorRequireScope(Scope))
	e.GET(WhoamiRoute, func(c echo.Context) error {
		respond(c.Response(), whoamiBody)
		return nil
	}, auth)
	return e, nil
}

// anchorRequireScope is Echo middleware that answers 403 unless the token
// echo-jwt verified has scope.
func anchorRequireScope(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			tok, ok := c.Get("user").(*jwt.Token)
			if !ok {
				return echo.ErrUnauthorized
			}
			claims, ok := tok.Claims.(*anchorClaims)
			if !ok || !hasScope(claims.Scope, scope) {
				return echo.ErrForbidden
			}
			return next(c)
		}
	}
}

// ---- auth0/go-jwt-middleware v2 ----

// auth0Claims are the custom claims of Auth0's Go quickstart: the "scope"
// string, checked by the route.
type auth0Claims struct {
	Scope string `json:"scope"`
}

// Validate satisfies validator.CustomClaims.
func (c *auth0Claims) Validate(context.Context) error { return nil }

// buildAuth0 follows go-jwt-middleware v2's JWKS example and Auth0's Go
// quickstart: jwks.NewCachingProvider (5 minutes) pointed at the JWK Set URL
// (WithCustomJWKSURI, instead of discovery), validator.New with the one
// algorithm, issuer and audience, custom claims carrying "scope" and the
// same clock skew as Keyward, jwtmiddleware.New with its defaults, and the
// scope checked in the route.
func buildAuth0(ctx context.Context, t Trust, alg string) (http.Handler, error) {
	issuerURL, err := url.Parse(t.Issuer)
	if err != nil {
		return nil, err
	}
	jwksURL, err := url.Parse(t.JWKSURL)
	if err != nil {
		return nil, err
	}
	provider := auth0jwks.NewCachingProvider(issuerURL, 5*time.Minute, auth0jwks.WithCustomJWKSURI(jwksURL))
	if _, err := provider.KeyFunc(ctx); err != nil { // fetch now, not on the first request
		return nil, err
	}
	v, err := validator.New(
		provider.KeyFunc,
		validator.SignatureAlgorithm(alg),
		t.Issuer,
		[]string{t.Audience},
		validator.WithCustomClaims(func() validator.CustomClaims { return &auth0Claims{} }),
		validator.WithAllowedClockSkew(Leeway),
	)
	if err != nil {
		return nil, err
	}
	mw := jwtmiddleware.New(v.ValidateToken)
	mux := http.NewServeMux()
	mux.Handle("GET "+BookingsRoute, mw.CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
		if !ok {
			http.Error(w, "no claims", http.StatusUnauthorized)
			return
		}
		custom, ok := claims.CustomClaims.(*auth0Claims)
		if !ok || !hasScope(custom.Scope, Scope) {
			http.Error(w, `{"message":"Insufficient scope."}`, http.StatusForbidden)
			return
		}
		respond(w, bookingsBody)
	})))
	mux.Handle("GET "+WhoamiRoute, mw.CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respond(w, whoamiBody)
	})))
	return mux, nil
}
