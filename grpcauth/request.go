package grpcauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/refusal"
	"github.com/keyward/keyward/internal/telemetry"
)

// newRequest returns the *http.Request the core reads for the call of
// fullMethod with context ctx: a POST to the full method, as gRPC sends it
// over HTTP/2, with the request metadata as headers (every value of every
// key that is a header; see headerKey), the :authority as Host, the peer's
// address as RemoteAddr, its TLS connection state, if any, as TLS, and the
// full method as the route (Pattern, and the telemetry's keyward.route).
func newRequest(ctx context.Context, fullMethod string) *http.Request {
	md, _ := metadata.FromIncomingContext(ctx)
	h := make(http.Header, len(md))
	host := ""
	for k, values := range md {
		if k == ":authority" && len(values) > 0 {
			host = values[0]
		}
		if !headerKey(k) {
			continue
		}
		name := http.CanonicalHeaderKey(k)
		if h[name] == nil {
			h[name] = values // FromIncomingContext's own copy
		} else {
			h[name] = append(h[name], values...) // not expected: lower-case keys canonicalize apart
		}
	}
	r := &http.Request{
		Method:     http.MethodPost,
		URL:        &url.URL{Path: fullMethod},
		RequestURI: fullMethod,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     h,
		Body:       http.NoBody,
		Host:       host,
	}
	if p, ok := peer.FromContext(ctx); ok {
		if p.Addr != nil {
			r.RemoteAddr = p.Addr.String()
		}
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			state := info.State
			r.TLS = &state
		}
	}
	// The full method is the route of the call, as ServeMux's pattern is
	// an HTTP request's: keyward.route on keyward.requests and the span.
	r.Pattern = fullMethod
	return r.WithContext(telemetry.WithRoute(ctx, fullMethod))
}

// headerKey reports whether the metadata key k is read as a request
// header: not a pseudo-header (":authority" and the like), not reserved by
// gRPC ("grpc-" keys), not binary ("-bin" keys, whose values are raw bytes
// no header carries) and not "host", which :authority replaces in HTTP/2.
func headerKey(k string) bool {
	return !strings.HasPrefix(k, ":") && !strings.HasPrefix(k, "grpc-") &&
		!strings.HasSuffix(k, "-bin") && k != "host"
}

// refusalMetadata is the response metadata of the refusal e: its
// challenges as www-authenticate entries, its retry delay as retry-after
// and its other headers (e.Header, such as DPoP-Nonce) under their names
// in lower case, with the values the HTTP middleware writes.
func refusalMetadata(e *dualauth.Error) metadata.MD {
	h := make(http.Header)
	_ = refusal.Render(h, e) // the headers of the HTTP answer; the body is not sent
	md := metadata.MD{}
	if v := h.Values("WWW-Authenticate"); len(v) > 0 {
		md["www-authenticate"] = v
	}
	if v := h.Values("Retry-After"); len(v) > 0 {
		md["retry-after"] = v
	}
	for name := range e.Header {
		if v := h.Values(name); len(v) > 0 {
			md[strings.ToLower(name)] = v
		}
	}
	return md
}

// statusOf is the status error that ends a call refused with e, by its
// HTTP status (which dualauth.Authenticator.Refusal sets from its code),
// with its description as the message. A status it does not know fails
// closed as Unauthenticated.
func statusOf(e *dualauth.Error) error {
	code := codes.Unauthenticated
	switch e.Status {
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	case http.StatusForbidden:
		code = codes.PermissionDenied
	case http.StatusTooManyRequests:
		code = codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		code = codes.Unavailable
	}
	return status.Error(code, e.Description)
}
