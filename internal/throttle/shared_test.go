package throttle

import (
	"errors"
	"strings"
	"testing"
)

// TestOpenRedisUnlinked: in a program that does not import redisthrottle
// (this test's), OpenRedis refuses with ErrNoRedis, which names the import.
func TestOpenRedisUnlinked(t *testing.T) {
	s, err := OpenRedis(RedisOptions{URL: "redis://127.0.0.1:6379/0"})
	if s != nil || !errors.Is(err, ErrNoRedis) || !strings.Contains(err.Error(), `"github.com/keyward/keyward/redisthrottle"`) {
		t.Fatalf("OpenRedis = %v, %v; want ErrNoRedis", s, err)
	}
}
