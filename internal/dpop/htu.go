package dpop

import (
	"errors"
	"strconv"
	"strings"
)

// normalURI returns the form in which a proof's htu and the request's URI
// are compared (RFC 9449 §4.3 point 9, with the syntax-based and
// scheme-based normalisation of RFC 3986 §6.2.2 and §6.2.3 that it asks
// for):
//
//   - the query and the fragment are dropped;
//   - the scheme must be http or https, in any case, and is written in
//     lower case;
//   - the host is written in lower case; user information, a
//     percent-encoded host, and characters no host name or IP literal
//     holds are refused;
//   - the port is written in decimal without leading zeros, and left out
//     when it is empty or the scheme's default (80, 443);
//   - in the path, a percent-encoded unreserved character (letters,
//     digits, "-", ".", "_", "~") is decoded, the hex digits of the other
//     percent-encodings are upper-cased, a byte that is neither a path
//     character of RFC 3986 nor part of a percent-encoding is
//     percent-encoded, and "." and ".." segments are removed (RFC 3986
//     §5.2.4); an empty path is "/". A "%" not followed by two hex digits
//     is refused.
//
// Nothing else is equated: "/a" and "/a/" differ, so do "/A" and "/a",
// "%2F" and "/", a host and its IP address, and a host with and without a
// trailing dot.
func normalURI(raw string) (string, error) {
	raw, _, _ = strings.Cut(raw, "#")
	raw, _, _ = strings.Cut(raw, "?")
	scheme, rest, found := strings.Cut(raw, "://")
	if !found {
		return "", errors.New("not an absolute URI")
	}
	scheme = strings.ToLower(scheme)
	var defaultPort string
	switch scheme {
	case "http":
		defaultPort = "80"
	case "https":
		defaultPort = "443"
	default:
		return "", errors.New("the scheme is not http or https")
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host, err := normalAuthority(authority, defaultPort)
	if err != nil {
		return "", err
	}
	path, err = normalPath(path)
	if err != nil {
		return "", err
	}
	return scheme + "://" + host + path, nil
}

// normalAuthority is host[:port] in lower case, without the default port.
func normalAuthority(authority, defaultPort string) (string, error) {
	if strings.Contains(authority, "@") {
		return "", errors.New("the URI holds user information")
	}
	host, port := authority, ""
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", errors.New("an IP literal lacks its ]")
		}
		host, port = authority[:end+1], authority[end+1:]
		if port != "" && port[0] != ':' {
			return "", errors.New("text follows an IP literal")
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host, port = authority[:i], authority[i:]
	}
	if host == "" || host == "[]" {
		return "", errors.New("the URI has no host")
	}
	if !validHost(host) {
		return "", errors.New("the host holds a character no host name or IP literal holds")
	}
	host = strings.ToLower(host)
	port = strings.TrimPrefix(port, ":")
	if port == "" {
		return host, nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", errors.New("the port is not a number from 0 to 65535")
	}
	if port = strconv.FormatUint(n, 10); port == defaultPort {
		return host, nil
	}
	return host + ":" + port, nil
}

// validHost reports whether host is a reg-name or IPv4 address (unreserved
// and sub-delims characters of RFC 3986 §3.2.2, no percent-encoding) or an
// IPv6 literal in brackets (hex digits, ":" and "."; no zone, no IPvFuture).
func validHost(host string) bool {
	chars := func(s string, ok func(byte) bool) bool {
		for i := 0; i < len(s); i++ {
			if !ok(s[i]) {
				return false
			}
		}
		return true
	}
	if inner, bracketed := strings.CutPrefix(host, "["); bracketed {
		inner, closed := strings.CutSuffix(inner, "]")
		return closed && chars(inner, func(c byte) bool {
			_, hex := unhex(c)
			return hex || c == ':' || c == '.'
		})
	}
	return chars(host, func(c byte) bool { return isUnreserved(c) || strings.IndexByte("!$&'()*+,;=", c) >= 0 })
}

// isUnreserved reports whether c is an unreserved character of RFC 3986
// §2.3.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathChar reports whether c stands for itself in a path: a pchar of
// RFC 3986 §3.3 other than a percent-encoding, or "/".
func isPathChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@/", c) >= 0
}

const upperHex = "0123456789ABCDEF"

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// normalPath normalises the percent-encodings and the dot segments of
// path, which is empty or starts with "/".
func normalPath(path string) (string, error) {
	if path == "" {
		return "/", nil
	}
	var b strings.Builder
	b.Grow(len(path))
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '%':
			if i+2 >= len(path) {
				return "", errors.New("the path holds a % without two hex digits")
			}
			hi, ok1 := unhex(path[i+1])
			lo, ok2 := unhex(path[i+2])
			if !ok1 || !ok2 {
				return "", errors.New("the path holds a % without two hex digits")
			}
			if d := hi<<4 | lo; isUnreserved(d) {
				b.WriteByte(d)
			} else {
				b.Write([]byte{'%', upperHex[hi], upperHex[lo]})
			}
			i += 2
		case isPathChar(c):
			b.WriteByte(c)
		default:
			b.Write([]byte{'%', upperHex[c>>4], upperHex[c&15]})
		}
	}
	return removeDotSegments(b.String()), nil
}

// removeDotSegments removes the "." and ".." segments of the absolute path
// p as RFC 3986 §5.2.4 does: "." goes, ".." takes the segment before it
// along, and either one last leaves the path ending in "/".
func removeDotSegments(p string) string {
	if !strings.Contains(p, "/.") {
		return p
	}
	segments := strings.Split(p[1:], "/")
	kept := make([]string, 0, len(segments))
	for i, s := range segments {
		last := i == len(segments)-1
		switch s {
		case ".":
		case "..":
			if len(kept) > 0 {
				kept = kept[:len(kept)-1]
			}
		default:
			kept = append(kept, s)
			continue
		}
		if last {
			kept = append(kept, "")
		}
	}
	return "/" + strings.Join(kept, "/")
}
