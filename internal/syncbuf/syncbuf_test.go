package syncbuf_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/internal/syncbuf"
)

func TestConcurrentWrites(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = b.Write([]byte("ab")) })
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("ab", 20) {
		t.Fatalf("String = %q", got)
	}
}
