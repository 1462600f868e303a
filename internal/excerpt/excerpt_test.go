package excerpt_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/excerpt"
)

func TestQuote(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", `""`},
		{`a"b`, `"a\"b"`},
		{strings.Repeat("é", 40), `"` + strings.Repeat("é", 40) + `"`},
		{strings.Repeat("é", 100), `"` + strings.Repeat("é", 40) + `…"`},
		{"\x00\n", `"\x00\n"`},
	} {
		if got := excerpt.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}
