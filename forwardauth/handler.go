// Package forwardauth makes Keyward a forward-authentication service: a
// reverse proxy in front of an API written in any language (nginx
// auth_request, Traefik forwardAuth, Caddy forward_auth, Envoy's HTTP
// ext_authz) asks it about every request, and it answers with Keyward's
// dual-mode authentication — a Bearer JWT or a client id and secret — and
// per-route scope checks. `keyward serve` (cmd/keyward) runs it.
//
// A Handler serves:
//
//   - /auth, any method: the original request is described by
//     X-Forwarded-Method and X-Forwarded-Uri (Traefik, Caddy) or
//     X-Original-Method and X-Original-URI (nginx), its host by
//     X-Forwarded-Host (else the request's Host), its scheme by
//     X-Forwarded-Proto (else http), its client by X-Forwarded-For; the
//     credentials are the forwarded Authorization, client id and secret
//     headers, and DPoP (a DPoP proof's htu must be the URI so described).
//   - /ext_authz/…, any method: Envoy's HTTP ext_authz check, whose path
//     is the original path after the prefix and whose method is the
//     original method (its scheme by X-Forwarded-Proto too: add it, and
//     dpop, to the filter's allowed_headers for DPoP).
//   - GET /livez: 200 while the service serves (a liveness probe).
//   - GET /readyz: 503 until every issuer's key set has loaded once, then
//     200 for good (a readiness probe): through a later key server outage
//     tokens verify against the keys held, and a request that finds no
//     key gets 503 itself.
//   - GET /healthz: the state of each issuer's key set now (503 while one
//     holds no keys), for people and monitoring, not for probes: an
//     identity provider's outage would take every replica out.
//   - GET /metrics: Options.Metrics, when set.
//
// The first route (Config.Routes, net/http.ServeMux patterns) that
// matches the original request decides: a public route lets it through,
// any other authenticates the caller and checks the route's scopes. An
// allowed request is answered 200 with the identity headers (subject,
// client id, scopes space-separated, method, issuer; every one of them,
// empty where the caller has none, so that a proxy copying them
// overwrites whatever the client sent under those names) and no body. A
// refusal is answered with the status, WWW-Authenticate challenges and
// JSON body the net/http middleware answers with (middleware.WriteError).
//
// The decision must hold for the request the upstream serves, which may
// read it more loosely than a ServeMux does. So a request is refused with
// 400 invalid_request when its path is not canonical, when a loose reading
// of it (its path case-blind, with or without a trailing slash or a
// suffix; under another method, where its route names none) falls to a
// route that asks more (loose.go, casing.go), or when it carries an
// identity header, a method override or a URL override in any spelling, or
// a _method query parameter (forged.go).
//
// Only peers in Config.TrustedProxies (loopback by default) may ask: the
// description of the original request is taken on their word, so a
// request from any other peer is refused with 403.
package forwardauth

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/refusal"
)

// The paths a Handler serves.
const (
	// AuthPath is the endpoint of nginx, Traefik and Caddy.
	AuthPath = "/auth"
	// ExtAuthzPrefix is the path_prefix of Envoy's HTTP ext_authz service.
	ExtAuthzPrefix = "/ext_authz"
	// LivePath answers 200 while the service serves.
	LivePath = "/livez"
	// ReadyPath answers 200 once every key set has loaded, 503 before.
	ReadyPath = "/readyz"
	// HealthPath reports the key sets' state.
	HealthPath = "/healthz"
	// MetricsPath serves Options.Metrics.
	MetricsPath = "/metrics"
)

// HeaderBody is a header of refusals to requests described in the nginx
// convention (X-Original-Method and X-Original-URI): it holds the JSON
// body of the refusal, which nginx's auth_request drops. Such refusals also
// carry their WWW-Authenticate challenges joined into one header (RFC 9110
// §11.6.1: one list), since nginx before 1.23 passes on only the first.
// An nginx configuration reads both with auth_request_set and renders the
// refusal in an error_page location, since auth_request itself turns any
// status but 401 and 403 into 500 (see the nginx part of README.md's "Keyward for every stack").
const HeaderBody = "X-Keyward-Body"

// Options configure a Handler; the zero value is useful.
type Options struct {
	// Logger receives refusals (as middleware.Options.Logger does: never
	// tokens, secrets or query strings) and problems with the proxy's
	// requests; nil discards.
	Logger *slog.Logger
	// Metrics, if set, serves GET /metrics; without it /metrics is 404.
	// This is the hook for a metrics exporter.
	Metrics http.Handler
}

// Handler is the forward-authentication service. It is safe for concurrent
// use.
type Handler struct {
	authn   *dualauth.Authenticator
	cfg     *compiled
	logger  *slog.Logger
	metrics http.Handler

	// Canonical identity header names, and their values for no caller.
	subject, clientID, scopes, method, issuer string

	warnNoClientAddr, warnUntrusted sync.Once
	// ready is set once every key set has loaded (see serveReady).
	ready atomic.Bool
}

// New checks cfg (see Config.Validate) and returns a Handler that
// authenticates with authn. authn's client credential headers must be the
// ones cfg names.
func New(authn *dualauth.Authenticator, cfg Config, opts Options) (*Handler, error) {
	if authn == nil {
		return nil, configErr("Authenticator", "is required")
	}
	c, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		authn:    authn,
		cfg:      c,
		logger:   logger,
		metrics:  opts.Metrics,
		subject:  http.CanonicalHeaderKey(c.headers.Subject),
		clientID: http.CanonicalHeaderKey(c.headers.ClientID),
		scopes:   http.CanonicalHeaderKey(c.headers.Scopes),
		method:   http.CanonicalHeaderKey(c.headers.Method),
		issuer:   http.CanonicalHeaderKey(c.headers.Issuer),
	}, nil
}

// ServeHTTP serves /auth, /ext_authz/…, /livez, /readyz, /healthz and
// /metrics; any other path is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case AuthPath:
		h.serveAuth(w, r)
		return
	case LivePath:
		h.serveLive(w, r)
		return
	case ReadyPath:
		h.serveReady(w, r)
		return
	case HealthPath:
		h.serveHealth(w, r)
		return
	case MetricsPath:
		if h.metrics != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			h.metrics.ServeHTTP(w, r)
			return
		}
	}
	// The path as sent, not decoded: the path after the prefix is the
	// original request's.
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), ExtAuthzPrefix); ok && strings.HasPrefix(rest, "/") {
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			rest += "?" + r.URL.RawQuery
		}
		h.serveExtAuthz(w, r, rest)
		return
	}
	http.NotFound(w, r)
}

// serveAuth answers /auth.
func (h *Handler) serveAuth(w http.ResponseWriter, r *http.Request) {
	_, nginx := r.Header[headerOriginalURI]
	peer, ok := h.trustedPeer(w, r, nginx)
	if !ok {
		return
	}
	d, described, e := fromHeaders(r)
	switch {
	case !described:
		h.logger.Error("keyward: the proxy did not describe the request to authorize: set X-Forwarded-Method and X-Forwarded-Uri, or X-Original-Method and X-Original-URI",
			"peer", r.RemoteAddr)
		h.deny(w, r, d.nginx, http.StatusInternalServerError, "server_error", "the proxy did not say which request to authorize")
		return
	case e != nil:
		h.refuse(w, r, nil, d.nginx, e)
		return
	}
	h.decide(w, r, d, peer)
}

// serveExtAuthz answers Envoy's check of the request whose URI is uri.
func (h *Handler) serveExtAuthz(w http.ResponseWriter, r *http.Request, uri string) {
	peer, ok := h.trustedPeer(w, r, false)
	if !ok {
		return
	}
	https, e := forwardedHTTPS(r)
	if e != nil {
		h.refuse(w, r, nil, false, e)
		return
	}
	h.decide(w, r, described{method: r.Method, uri: uri, host: r.Host, https: https}, peer)
}

// trustedPeer returns r's peer if it is a trusted proxy; else it refuses r.
func (h *Handler) trustedPeer(w http.ResponseWriter, r *http.Request, nginx bool) (netip.Addr, bool) {
	peer, ok := peerAddr(r)
	if ok && h.cfg.trusted.Trusts(peer) {
		return peer, true
	}
	h.warnUntrusted.Do(func() {
		h.logger.Warn("keyward: refused an authorization request from a peer that is not a trusted proxy; if it is your proxy, add its address to forward_auth.trusted_proxies (logged once; every refusal is logged at info)", "peer", r.RemoteAddr)
	})
	h.deny(w, r, nginx, http.StatusForbidden, "access_denied", "the authorization request did not come from a trusted proxy")
	return netip.Addr{}, false
}

// decide authenticates and authorizes the described request and answers.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, d described, peer netip.Addr) {
	if _, ok := r.Header[headerForwardedFor]; !ok && h.authn.Mode() != dualauth.ModeJWT {
		h.warnNoClientAddr.Do(func() {
			h.logger.Warn("keyward: the proxy sent no X-Forwarded-For: failed client credential checks count against the proxy's address, and a guesser can lock every client out; set X-Forwarded-For in the proxy", "peer", r.RemoteAddr)
		})
	}
	req, e := h.cfg.synthesize(r, d, h.cfg.clientAddr(r))
	if e != nil {
		h.refuse(w, r, nil, d.nginx, e)
		return
	}
	rt := h.cfg.route(req)
	// A preflight passes, under cors_preflight: pass, only where a route
	// serves the method it asks about: on a path no route lists it is
	// authenticated like any request. Passing it is the configuration's
	// choice, so it is not read as the methods routes name. A route that
	// names no method is served for OPTIONS by the handler it protects:
	// there a preflight is authenticated too.
	preflight := h.cfg.passPreflight && req.Method == http.MethodOptions && h.preflightRoute(req, r) != nil &&
		(rt == nil || rt.public || rt.method != "")
	if rt == nil && h.cfg.unmatched == UnmatchedDeny {
		h.deny(w, req, d.nginx, http.StatusForbidden, "access_denied", "no route allows this request")
		return
	}
	// The upstream may serve the stricter route's resource (see loose.go):
	// refuse rather than guess.
	switch h.cfg.looseReadingAsksMore(req, rt, !preflight) {
	case readByPath:
		h.refuse(w, r, nil, d.nginx, invalidRequest("the request path would be read as another route by servers that ignore case, a trailing slash or a suffix; use the canonical path"))
		return
	case readByMethod:
		h.refuse(w, r, nil, d.nginx, invalidRequest("the request would be read as another route, one that asks more, by servers that route without the method (a route of this path names another method)"))
		return
	}
	if (rt != nil && rt.public) || preflight {
		h.allow(w, nil)
		return
	}
	var p *dualauth.Principal
	var err error
	if rt != nil {
		p, err = h.authn.Authorize(req, rt.require)
	} else {
		p, err = h.authn.Authenticate(req)
	}
	if err != nil {
		h.refuse(w, r, req, d.nginx, err)
		return
	}
	if !headerSafe(p.Subject) || !headerSafe(p.ClientID) || !headerSafe(p.Issuer) {
		h.refuse(w, r, req, d.nginx, &dualauth.Error{
			Status: http.StatusUnauthorized, Code: dualauth.CodeInvalidToken,
			Description: "the caller's subject, client id or issuer cannot be sent in a header",
		})
		return
	}
	h.allow(w, p)
}

// preflightRoute is the route the CORS preflight r (described as req)
// asks about: the one that serves its path with the method of its
// Access-Control-Request-Method. It is nil when r is no preflight (one
// has an Origin and an Access-Control-Request-Method in upper case) or no
// route serves that method there.
func (h *Handler) preflightRoute(req, r *http.Request) *route {
	method := r.Header.Get("Access-Control-Request-Method")
	if r.Header.Get("Origin") == "" || method == "" || method != strings.ToUpper(method) {
		return nil
	}
	alt := *req // routes read only the method, host and path
	alt.Method = method
	return h.cfg.route(&alt)
}

// noValue is the value of every identity header when there is no caller.
var noValue = []string{""}

// noStore is the Cache-Control of every answer.
var noStore = []string{"no-store"}

// allow answers 200 with p's identity headers, all empty when p is nil.
func (h *Handler) allow(w http.ResponseWriter, p *dualauth.Principal) {
	hdr := w.Header()
	if p == nil {
		hdr[h.subject], hdr[h.clientID], hdr[h.scopes], hdr[h.method], hdr[h.issuer] = noValue, noValue, noValue, noValue, noValue
	} else {
		v := []string{p.Subject, p.ClientID, p.Scopes.String(), string(p.Method), p.Issuer} // one allocation
		hdr[h.subject], hdr[h.clientID], hdr[h.scopes], hdr[h.method], hdr[h.issuer] = v[0:1:1], v[1:2:2], v[2:3:3], v[3:4:4], v[4:5:5]
	}
	hdr["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
}

// headerSafe reports whether s can be a header value as it is: no control
// characters (a line break would end the header).
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// refuse answers with the refusal err of req (the request authenticated;
// r itself when there is none), as the middleware's WriteError answers and
// logs it, plus the nginx helper headers.
func (h *Handler) refuse(w http.ResponseWriter, r, req *http.Request, nginx bool, err error) {
	if req == nil {
		req = r
	}
	e := h.authn.Refusal(req, err)
	refusal.Log(h.logger, req, e)
	h.finish(w, r, nginx, e.Status, refusal.Render(w.Header(), e))
}

// deny answers a refusal that is the service's own, not the
// authenticator's: no route, an untrusted peer, a proxy set up wrong. No
// credentials could change the answer, so there is no challenge; the body
// and the log line are the middleware's. A 500 (the service set up wrong)
// is logged by its caller.
func (h *Handler) deny(w http.ResponseWriter, r *http.Request, nginx bool, status int, code, description string) {
	e := &dualauth.Error{Status: status, Code: code, Description: description}
	if status != http.StatusInternalServerError {
		refusal.Log(h.logger, r, e)
	}
	h.finish(w, r, nginx, status, refusal.Render(w.Header(), e))
}

// finish writes a refusal whose headers are set: the nginx helper headers
// if asked for, the status, and the body unless r is a HEAD request.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, nginx bool, status int, body []byte) {
	hdr := w.Header()
	if nginx {
		if challenges := hdr.Values("WWW-Authenticate"); len(challenges) > 1 {
			hdr.Set("WWW-Authenticate", strings.Join(challenges, ", "))
		}
		hdr.Set(HeaderBody, string(body))
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// serveLive answers GET /livez: 200 while the service serves.
func (h *Handler) serveLive(w http.ResponseWriter, r *http.Request) {
	if probeMethod(w, r) {
		writeJSON(w, r, http.StatusOK, statusOK)
	}
}

// statusOK is the body of /livez, and of /readyz when ready.
var statusOK = struct {
	Status string `json:"status"`
}{"ok"}

// serveReady answers GET /readyz: 503 until every issuer's key set has
// loaded once, then 200 for as long as the service serves. A key server
// outage later does not make the service unready: tokens verify against
// the keys held, and without any a JWT request gets 503 itself, while
// client credentials and public routes still work.
func (h *Handler) serveReady(w http.ResponseWriter, r *http.Request) {
	if !probeMethod(w, r) {
		return
	}
	if !h.ready.Load() {
		var waiting []string
		for name, st := range h.authn.KeyStatus() {
			if st.LastRefresh.IsZero() {
				waiting = append(waiting, name)
			}
		}
		if len(waiting) > 0 {
			slices.Sort(waiting)
			writeJSON(w, r, http.StatusServiceUnavailable, struct {
				Status  string   `json:"status"`
				Issuers []string `json:"issuers"`
			}{"loading_keys", waiting})
			return
		}
		h.ready.Store(true) // LastRefresh, once set, stays set
	}
	writeJSON(w, r, http.StatusOK, statusOK)
}

// serveHealth answers GET /healthz: for each issuer, how many keys are
// held and whether the last refresh succeeded; 503 while an issuer holds
// no keys, since its tokens are all refused. Sources and error texts stay
// out: they would tell anyone about internal hosts.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	if !probeMethod(w, r) {
		return
	}
	type issuer struct {
		Keys    int  `json:"keys"`
		Healthy bool `json:"healthy"`
	}
	out := struct {
		Status  string            `json:"status"`
		Issuers map[string]issuer `json:"issuers"`
	}{Status: "ok", Issuers: map[string]issuer{}}
	status := http.StatusOK
	for name, st := range h.authn.KeyStatus() {
		out.Issuers[name] = issuer{Keys: st.Keys, Healthy: st.Keys > 0 && st.LastError == ""}
		if st.Keys == 0 {
			out.Status, status = "no_keys", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, r, status, out)
}

// probeMethod reports whether r asks with GET or HEAD, as the state
// endpoints take; else it answers 405.
func probeMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// writeJSON answers with status and v as a JSON body, not to be cached (no
// body for HEAD).
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, _ := json.Marshal(v)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
