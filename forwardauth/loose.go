package forwardauth

import (
	"net/http"
	"slices"
	"strings"
)

// Frameworks read paths more loosely than a ServeMux: case-blind (Express,
// ASP.NET Core, Java's equalsIgnoreCase), with or without a trailing slash
// (Express, Flask's redirects), without a format suffix such as ".json"
// (Rails, Spring's suffix patterns). The upstream may serve a request as any
// such reading of its path, so the decision taken for the path as sent must
// hold for every reading: when one falls to a route that asks more than the
// route of the path as sent, the request is refused rather than guessed at.

// reading is one loose form of a request path.
type reading struct {
	path string
	// folded: path is case-folded (see foldCase), to be matched against
	// the case-folded routes.
	folded bool
}

// maxReadings bounds the number of loose readings of a path: per base (as
// sent, folded, and both with spaces trimmed from its segments) the path,
// and three stems with and without a slash.
const maxReadings = 4 * (1 + 3*2)

// looseReadings are the readings of path other than path itself: as sent
// and case-folded, with the spaces around its segments trimmed when it has
// any (as Spring's trimTokens did), each without its trailing slash,
// without the suffix of its last segment (from the last dot, and from the
// first), and each of those with a trailing slash added. They are returned
// in an array, which costs no allocation.
func looseReadings(path string) (out [maxReadings]reading, n int) {
	add := func(p string, folded bool) {
		r := reading{p, folded}
		if p == "" || (!folded && p == path) || slices.Contains(out[:n], r) {
			return
		}
		out[n] = r
		n++
	}
	bases := [4]reading{{path, false}, {foldCase(path), true}}
	if strings.IndexByte(path, ' ') >= 0 {
		trimmed := trimSegments(path)
		bases[2], bases[3] = reading{trimmed, false}, reading{foldCase(trimmed), true}
	}
	for _, b := range bases {
		if b.path == "" {
			continue
		}
		trimmed := b.path
		if len(trimmed) > 1 {
			trimmed = strings.TrimSuffix(trimmed, "/")
		}
		last := trimmed[strings.LastIndexByte(trimmed, '/')+1:]
		stems := [3]string{trimmed}
		if i := strings.LastIndexByte(last, '.'); i > 0 {
			stems[1] = trimmed[:len(trimmed)-len(last)+i]
		}
		if i := strings.IndexByte(last, '.'); i > 0 {
			stems[2] = trimmed[:len(trimmed)-len(last)+i]
		}
		add(b.path, b.folded)
		for _, s := range stems {
			if s == "" {
				continue
			}
			add(s, b.folded)
			if s != "/" {
				add(s+"/", b.folded)
			}
		}
	}
	return out, n
}

// trimSegments is path with the spaces around each segment removed.
func trimSegments(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = strings.Trim(s, " ")
	}
	return strings.Join(segs, "/")
}

// A server may also route without the method: Spring's @RequestMapping
// without one, Express's app.all, the JDK's HttpServer and Go's ServeMux
// before 1.22 serve a path alike whatever the method. Where the route that
// decides a request names no method (the public "/" behind "GET
// /v1/account"), a POST, PROPFIND or OPTIONS to /v1/account falls to it
// here, while such an upstream serves the account. So the request is also
// read under each method some route names, and refused when that reading
// falls to a route that asks more. Between two routes that both name a
// method (GET and POST /v1/bookings with their own scopes) nothing is
// held: the upstream routes by method too, or the routes would not say so.

// How a request would be read as another route.
const (
	readAsSent   = iota // as sent: no other route
	readByPath          // another spelling of its path
	readByMethod        // another method, with its path or a spelling of it
)

// looseReadingAsksMore says how some loose reading of req falls to a route
// that asks more than rt, the route of req as sent (nil: a path no route
// lists, under UnmatchedAuthenticate); readAsSent if none does. Readings
// are the loose spellings of its path under its method, and, when rt names
// no method and methodBlind is set, the path and its spellings under every
// other method that a route names. A reading tells of another resource
// only when it falls to a route that does not match req: a route that
// matches both (a catch-all "/" behind "GET /healthz", "/v1/" behind "POST
// /v1/bookings") is one that rt was chosen over for this very request, and
// a reading no route lists describes nothing.
func (c *compiled) looseReadingAsksMore(req *http.Request, rt *route, methodBlind bool) int {
	var methods []string
	if methodBlind && (rt == nil || rt.method == "") {
		methods = c.methods
	}
	// One copy of req for every reading: routes read only the method,
	// host and path.
	alt, u := *req, *req.URL
	alt.URL = &u
	asksMore := func(routes []*route) bool {
		other := firstMatch(routes, &alt)
		return other != nil && (rt == nil || other.index != rt.index) &&
			!c.routes[other.index].matches(req) && !covers(rt, other)
	}
	for _, m := range methods {
		if alt.Method = m; m != req.Method && asksMore(c.routes) {
			return readByMethod
		}
	}
	readings, n := looseReadings(req.URL.Path)
	for _, v := range readings[:n] {
		routes := c.routes
		if v.folded {
			routes = c.folded
		}
		u.Path, u.RawPath = v.path, ""
		if alt.Method = req.Method; asksMore(routes) {
			return readByPath
		}
		for _, m := range methods {
			if alt.Method = m; m != req.Method && asksMore(routes) {
				return readByMethod
			}
		}
	}
	return readAsSent
}

// covers reports whether every caller that route a lets through would also
// be let through by route b (not nil). A public route asks nothing; any
// other asks for a caller, with scopes if it lists some, and so does nil
// for a: a path no route lists, under UnmatchedAuthenticate.
func covers(a, b *route) bool {
	switch {
	case b.public:
		return true
	case a != nil && a.public:
		return false // b asks for a caller
	case b.require.IsZero():
		return true // b asks for a caller, and so does a
	case a == nil || a.require.IsZero():
		return false // b asks for scopes too
	}
	as, bs := a.require.Scopes(), b.require.Scopes()
	switch {
	case !a.require.OneOf() && !b.require.OneOf(): // all of as ⇒ all of bs
		return !slices.ContainsFunc(bs, func(s string) bool { return !slices.Contains(as, s) })
	case !a.require.OneOf(): // all of as ⇒ one of bs
		return slices.ContainsFunc(bs, func(s string) bool { return slices.Contains(as, s) })
	case b.require.OneOf(): // one of as ⇒ one of bs
		return !slices.ContainsFunc(as, func(s string) bool { return !slices.Contains(bs, s) })
	}
	return false // one of as does not imply all of bs (bs not empty here)
}
