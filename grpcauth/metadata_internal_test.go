package grpcauth

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/keyward/keyward/dualauth"
)

// TestRefusalMetadataHeaders: a refusal's other headers (Error.Header,
// such as a DPoP-Nonce) reach the response metadata under their names in
// lower case, beside the challenges and Retry-After.
func TestRefusalMetadataHeaders(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    *dualauth.Error
		want metadata.MD
	}{
		{"a nonce", &dualauth.Error{Status: 401, Code: "use_dpop_nonce", Challenges: []string{`DPoP realm="api"`},
			Header: http.Header{"dpop-nonce": {"n-1"}}}, metadata.MD{"www-authenticate": {`DPoP realm="api"`}, "dpop-nonce": {"n-1"}}},
		{"none", &dualauth.Error{Status: 503, Code: dualauth.CodeTemporarilyUnavailable, RetryAfter: time.Second},
			metadata.MD{"retry-after": {"1"}}},
	} {
		if got := refusalMetadata(tt.e); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
