package authserver

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/dpop"
	"github.com/keyward/keyward/internal/urlrule"
)

// Server is a development authorization server. Build it with New and serve
// its Handler; its methods are safe for concurrent use.
type Server struct {
	cfg     settings
	log     *slog.Logger
	realm   string // of the Basic challenge: the issuer
	keys    *keyring
	clients *clientAuth
	refresh *refreshStore
	opaque  *opaqueStore
	dpop    *dpop.Checker // DPoP proofs at the token endpoints
	handler http.Handler
}

// New checks cfg and returns a server with a fresh signing key (and the next
// one, published ahead of its use).
func New(cfg Config) (*Server, error) { return newServer(cfg, nil) }

// newServer is New with a hook that runs after every successful check of a
// client secret (see newClientAuth), for tests.
func newServer(cfg Config, afterVerify func(id string)) (*Server, error) {
	st, err := cfg.check()
	if err != nil {
		return nil, err
	}
	keys, err := newKeyring(st.Algorithm)
	if err != nil {
		return nil, err
	}
	clientAuth, err := newClientAuth(st.Clients, st.Now, afterVerify)
	if err != nil {
		return nil, err
	}
	proofs, err := dpop.New(dpop.Options{Now: st.Now}) // the default algorithms, max age and leeway; replays refused in memory
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     st,
		log:     st.Logger,
		realm:   st.Issuer,
		keys:    keys,
		clients: clientAuth,
		refresh: newRefreshStore(st.maxRefresh, st.maxRefreshOwn),
		opaque:  newOpaqueStore(st.maxOpaque),
		dpop:    proofs,
	}
	s.handler = s.routes()
	if u, _ := url.Parse(st.Issuer); u.Scheme == "http" && !urlrule.IsLoopback(u.Hostname()) {
		s.log.Warn("the issuer is http:// for a host that is not loopback: Keyward resource servers need allow_insecure_http to discover it",
			"issuer", st.Issuer)
	}
	return s, nil
}

// Handler returns the HTTP handler of the metadata, key set, token and
// introspection endpoints (see the package documentation). Other paths are 404; a method
// an endpoint does not serve is 405 with an Allow header.
//
// Failed client authentications are throttled per caller address: the
// request's peer, or, when the peer is one of Config.TrustedProxies (such as
// a resource server exchanging its callers' credentials, which sends each
// caller's address), the right-most X-Forwarded-For address that is not a
// trusted proxy's. So a guesser behind a trusted proxy is held back alone,
// while the proxy's other callers keep getting tokens.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	get := []string{http.MethodGet, http.MethodHead}
	post := []string{http.MethodPost}
	mux.Handle(PathOpenIDConfiguration, allow(get, s.serveMetadata))
	mux.Handle(PathOAuthMetadata, allow(get, s.serveMetadata))
	mux.Handle(PathJWKS, allow(get, s.serveJWKS))
	for _, ep := range endpoints {
		mux.Handle(ep.path, allow(post, s.tokenHandler(ep)))
	}
	mux.Handle(PathIntrospect, allow(post, s.serveIntrospection))
	return mux
}

// allow serves h for the methods only; others get 405 with an Allow header
// and an RFC 6749 §5.2 style body.
func allow(methods []string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(methods, r.Method) {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			writeNoStore(w, http.StatusMethodNotAllowed, map[string]string{
				"error":             codeInvalidRequest,
				"error_description": "the method must be " + strings.Join(methods, " or "),
			})
			return
		}
		h(w, r)
	})
}

// RotateKey makes a new key the signing key and returns its key id. The
// new key is the one published ahead as the next key, and a new next key is
// published in its place. The old signing key stays published until every
// token it signed has expired, then it is dropped; one that signed nothing is
// dropped at once.
func (s *Server) RotateKey() (kid string, err error) {
	kid, err = s.keys.rotate(s.cfg.Now())
	if err != nil {
		s.log.Error("key rotation failed", "error", err)
		return "", err
	}
	s.log.Info("signing key rotated", "kid", kid)
	return kid, nil
}

// Run rotates the signing key every Config.RotateEvery until ctx is done. It
// returns at once if RotateEvery is 0. A failed rotation is logged and
// keeps the current key until the next period.
func (s *Server) Run(ctx context.Context) {
	if s.cfg.RotateEvery == 0 {
		return
	}
	ticker := time.NewTicker(s.cfg.RotateEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			_, _ = s.RotateKey()
		}
	}
}
