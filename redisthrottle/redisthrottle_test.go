package redisthrottle_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/throttle"
	_ "github.com/keyward/keyward/redisthrottle"
)

// TestImportRegistersTheStore: with the package imported, throttle.OpenRedis
// opens a store on Redis (without connecting), and reports a bad URL as
// the store does, without a password, and never as ErrNoRedis.
func TestImportRegistersTheStore(t *testing.T) {
	for _, tc := range []struct {
		url     string
		wantErr bool
	}{
		{"redis://127.0.0.1:6379/0", false},
		{"rediss://127.0.0.1:6380/1", false},
		{"http://u:pa55word@127.0.0.1:6379", true},
		{"redis://u:pa55word@127.0.0.1:6379/db", true},
	} {
		s, err := throttle.OpenRedis(throttle.RedisOptions{URL: tc.url})
		switch {
		case errors.Is(err, throttle.ErrNoRedis):
			t.Fatalf("%s: %v", tc.url, err)
		case tc.wantErr && (err == nil || s != nil):
			t.Errorf("%s: store %v, error %v; want an error alone", tc.url, s, err)
		case tc.wantErr && strings.Contains(err.Error(), "pa55"):
			t.Errorf("the error quotes the password: %v", err)
		case !tc.wantErr && (err != nil || s == nil):
			t.Errorf("%s: store %v, error %v", tc.url, s, err)
		case !tc.wantErr:
			if err := s.Close(); err != nil {
				t.Errorf("%s: Close: %v", tc.url, err)
			}
		}
	}
}
