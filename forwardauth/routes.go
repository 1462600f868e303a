package forwardauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/scopes"
)

// route is a checked Route. Each route has a ServeMux of its own holding
// only its pattern, so that the standard library decides whether the
// pattern matches a request while the routes keep their order: the first
// that matches wins, which one ServeMux (most specific wins) cannot do.
type route struct {
	index   int
	pattern string
	method  string // the pattern's method, "" for any
	// prefix is the literal start of the pattern's path (up to its first
	// wildcard), which the decoded path of every request it matches starts
	// with; "" when it holds an escape, whose decoding is the ServeMux's.
	prefix string
	// literal is set when the pattern has no host and its path no
	// wildcard or escape: then it matches a path equal to prefix, or
	// starting with it when prefix ends in a slash (a subtree), and routes
	// decide that without asking the ServeMux, which allocates.
	literal bool
	require scopes.Requirement
	public  bool
	mux     *http.ServeMux
	probe   *http.Request // a request the pattern matches, for the shadowing check
}

// marker is the handler registered for a route's pattern: finding it
// tells a match from the ServeMux's own answers (not found, method not
// allowed, redirects).
type marker struct{}

func (*marker) ServeHTTP(http.ResponseWriter, *http.Request) {}

var theMarker = &marker{}

// route is the first route that matches r, or nil.
func (c *compiled) route(r *http.Request) *route {
	return firstMatch(c.routes, r)
}

// firstMatch is the first of routes that matches r, or nil.
func firstMatch(routes []*route, r *http.Request) *route {
	for _, rt := range routes {
		if rt.matches(r) {
			return rt
		}
	}
	return nil
}

// matches reports whether r matches rt's pattern, as a ServeMux holding
// it would route r to it. r's path must be canonical (see checkPath): the
// ServeMux would otherwise answer with a redirect, which is no match.
func (rt *route) matches(r *http.Request) bool {
	if rt.method != "" && rt.method != r.Method && (rt.method != http.MethodGet || r.Method != http.MethodHead) {
		return false // what the ServeMux would find, without its 405 bookkeeping
	}
	if rt.literal {
		if strings.HasSuffix(rt.prefix, "/") {
			return strings.HasPrefix(r.URL.Path, rt.prefix)
		}
		return r.URL.Path == rt.prefix
	}
	if !strings.HasPrefix(r.URL.Path, rt.prefix) {
		return false // the same again, cheaper
	}
	h, _ := rt.mux.Handler(r)
	_, ok := h.(*marker)
	return ok
}

// compileRoute checks the i-th route and builds it.
func compileRoute(i int, r Route) (*route, error) {
	at := fmt.Sprintf("Routes[%d]", i)
	p := r.Pattern
	if p == "" {
		return nil, configErr(at+".Pattern", "is required: a ServeMux pattern such as \"GET /v1/bookings\" or \"/public/\"")
	}
	fields := strings.Fields(p)
	if strings.TrimSpace(p) != p || len(fields) > 2 {
		return nil, configErr(at+".Pattern", "%s is not a pattern: [METHOD ][HOST]/PATH, with one space after the method and none elsewhere", excerpt.Quote(p))
	}
	rt := &route{index: i, pattern: strings.Join(fields, " "), require: r.Require, public: r.Public}
	if len(fields) == 2 {
		rt.method = fields[0]
		if strings.ToUpper(rt.method) != rt.method {
			return nil, configErr(at+".Pattern", "the method %s would never match: methods are case-sensitive (write %s)", excerpt.Quote(rt.method), strings.ToUpper(rt.method))
		}
	}
	hostPath := fields[len(fields)-1]
	if host, _, found := strings.Cut(hostPath, "/"); found && host != "" {
		switch {
		case strings.ContainsAny(host, ":[]"):
			// The ServeMux compares the request's host without its port.
			return nil, configErr(at+".Pattern", "%s names a host with a port or brackets, which never matches: hosts are compared without their port", excerpt.Quote(p))
		case strings.ToLower(host) != host:
			// Request hosts are compared in lower case (see synthesize).
			return nil, configErr(at+".Pattern", "%s names a host with upper-case letters, which never matches: write it in lower case", excerpt.Quote(p))
		case !strings.Contains(host, ".") && host != "localhost":
			// "v1/bookings" is the host v1 and the path /bookings to a
			// ServeMux: surely a path missing its leading slash.
			return nil, configErr(at+".Pattern", "%s names the host %s; a path starts with / (did you mean /%s?), and a host has a dot, such as api.example.com/v1/", excerpt.Quote(p), excerpt.Quote(host), hostPath)
		}
	}
	if r.Public && !r.Require.IsZero() {
		return nil, configErr(at+".Require", "a public route lets everyone through; it cannot require scopes")
	}
	if esc, ok := letterEscape(hostPath); ok {
		// Readings fold the characters of a path, not the text of its
		// escapes: a route written /caf%C3%A9/ would not meet /CAF%C3%89/.
		return nil, configErr(at+".Pattern", "%s writes %s as an escape; write the character itself (only %%2F, %%25, %%7B and %%7D, which a pattern cannot spell otherwise, may be escaped)", excerpt.Quote(p), esc)
	}
	mux, err := register(rt.pattern)
	if err != nil {
		return nil, configErr(at+".Pattern", "%s is not a valid ServeMux pattern: %s", excerpt.Quote(p), err)
	}
	rt.mux = mux
	rt.probe = probeFor(rt.method, hostPath)
	path := hostPath[strings.IndexByte(hostPath, '/'):]
	if i := strings.IndexByte(path, '{'); i >= 0 {
		path = path[:i]
	}
	if !strings.Contains(path, "%") {
		rt.prefix = path
		rt.literal = path == hostPath // no host, no wildcard
	}
	return rt, nil
}

// foldRoute is rt with its path case-folded outside its wildcards (see
// foldCase), for matching case-folded readings of request paths.
func foldRoute(rt *route) (*route, error) {
	method, hostPath, found := strings.Cut(rt.pattern, " ")
	if !found {
		method, hostPath = "", rt.pattern
	}
	slash := strings.IndexByte(hostPath, '/')
	pattern := hostPath[:slash] + foldPattern(hostPath[slash:])
	if method != "" {
		pattern = method + " " + pattern
	}
	mux, err := register(pattern)
	if err != nil {
		return nil, configErr(fmt.Sprintf("Routes[%d].Pattern", rt.index), "%s read case-blind is not a valid ServeMux pattern: %s", excerpt.Quote(rt.pattern), err)
	}
	f := *rt
	f.pattern, f.mux, f.prefix, f.probe = pattern, mux, foldCase(rt.prefix), nil
	return &f, nil
}

// register returns a ServeMux holding pattern alone, or the ServeMux's
// complaint about the pattern.
func register(patterns ...string) (mux *http.ServeMux, err error) {
	mux = http.NewServeMux()
	defer func() {
		if v := recover(); v != nil {
			msg := fmt.Sprint(v)
			// "parsing "GET /{": at offset 4: bad wildcard segment": the
			// pattern is quoted by the caller already.
			if rest, ok := strings.CutPrefix(msg, "parsing "); ok {
				if _, after, found := strings.Cut(rest, "\": "); found {
					msg = after
				}
			}
			mux, err = nil, fmt.Errorf("%s", msg)
		}
	}()
	for _, p := range patterns {
		mux.Handle(p, theMarker)
	}
	return mux, nil
}

// probeFor returns a request that the pattern of method and hostPath
// matches: wildcards become a literal segment, {$} the end of the path,
// and a pattern without host gets a host no pattern names.
func probeFor(method, hostPath string) *http.Request {
	slash := strings.IndexByte(hostPath, '/')
	host, path := hostPath[:slash], hostPath[slash:]
	if host == "" {
		host = "kw-probe.invalid"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if s == "{$}" {
				segs[i] = ""
			} else {
				segs[i] = "kw-probe"
			}
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(strings.Join(segs, "/"))
	if err != nil {
		return nil // no probe: the shadowing check skips this route
	}
	return &http.Request{Method: method, Host: host, URL: u, Header: http.Header{}}
}

// shadows says why later can never decide a request because earlier,
// listed before it, matches every request later matches; "" if it can.
// Two patterns that overlap without either being more specific (a
// conflict in a ServeMux) are allowed: the first listed wins where they
// overlap, and each still decides requests of its own.
func shadows(earlier, later *route) string {
	name := func(rt *route) string { return fmt.Sprintf("Routes[%d] (%s)", rt.index, excerpt.Quote(rt.pattern)) }
	if earlier.pattern == later.pattern {
		return fmt.Sprintf("duplicates %s", name(earlier))
	}
	if earlier.probe == nil || later.probe == nil {
		return ""
	}
	both, err := register(earlier.pattern, later.pattern)
	if err != nil {
		// A conflict: the same requests, or some of each other's.
		if earlier.matches(later.probe) && later.matches(earlier.probe) {
			return fmt.Sprintf("matches the same requests as %s, listed first: it is never reached", name(earlier))
		}
		return ""
	}
	if !earlier.matches(later.probe) {
		return "" // they do not overlap
	}
	if _, pattern := both.Handler(later.probe); pattern == later.pattern {
		// later is the more specific of the two: a strict subset.
		return fmt.Sprintf("is never reached: %s, listed first, matches every request it matches; list the more specific route first", name(earlier))
	}
	return ""
}

// checkMux reports whether net/http's ServeMux has Go 1.22 patterns: the
// GODEBUG setting httpmuxgo121=1 turns them off.
var checkMux = sync.OnceValue(func() error {
	mux, err := register("GET /kw-check/{x}")
	if err == nil {
		r := &http.Request{Method: http.MethodGet, Host: "h", URL: mustURL("/kw-check/y"), Header: http.Header{}}
		if h, _ := mux.Handler(r); h == theMarker {
			return nil
		}
	}
	return configErr("Routes", "net/http's ServeMux does not read Go 1.22 patterns here (is GODEBUG=httpmuxgo121=1 set?); forward auth needs them")
})

// letterEscape returns the first percent-escape in path that stands for a
// character a pattern can spell as itself: anything but "/", "%", "{" and
// "}".
func letterEscape(path string) (string, bool) {
	for i := 0; i+3 <= len(path); i++ {
		if path[i] != '%' {
			continue
		}
		switch esc := strings.ToUpper(path[i : i+3]); esc {
		case "%2F", "%25", "%7B", "%7D":
		default:
			return path[i : i+3], true
		}
	}
	return "", false
}
