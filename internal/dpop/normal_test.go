package dpop_test

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/keyward/keyward/internal/dpop"
)

func sha256B64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestNormalURI checks what htu comparison equates and what it does not.
func TestNormalURI(t *testing.T) {
	for _, r := range []struct{ in, want string }{
		{"https://api.example.com/a", "https://api.example.com/a"},
		{"HTTPS://API.EXAMPLE.COM/a", "https://api.example.com/a"},
		{"https://api.example.com", "https://api.example.com/"},
		{"https://api.example.com?x=1", "https://api.example.com/"},
		{"https://api.example.com:443/a", "https://api.example.com/a"},
		{"http://api.example.com:80/a", "http://api.example.com/a"},
		{"http://api.example.com:443/a", "http://api.example.com:443/a"},
		{"https://api.example.com:0443/a", "https://api.example.com/a"},
		{"https://api.example.com:/a", "https://api.example.com/a"},
		{"https://api.example.com:8443/a", "https://api.example.com:8443/a"},
		{"https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"},
		{"https://127.0.0.1:8080/a", "https://127.0.0.1:8080/a"},
		{"https://h/a?q=1#f", "https://h/a"},
		{"https://h/a#f?q", "https://h/a"},
		{"https://h/a/", "https://h/a/"},
		{"https://h/%7e%41", "https://h/~A"},
		{"https://h/%2f%2F", "https://h/%2F%2F"},
		{"https://h/a b", "https://h/a%20b"},
		{"https://h/a%20b", "https://h/a%20b"},
		{"https://h/a/./b/../c", "https://h/a/c"},
		{"https://h/a/b/..", "https://h/a/"},
		{"https://h/%2E%2E/a", "https://h/a"},
		{"https://h/../../a", "https://h/a"},
		{"https://h/a.b/.c", "https://h/a.b/.c"},
		{"https://h//a", "https://h//a"},
		{"https://h/A", "https://h/A"},
	} {
		got, err := dpop.NormalURI(r.in)
		if err != nil || got != r.want {
			t.Errorf("normalURI(%q) = %q, %v; want %q", r.in, got, err, r.want)
		}
	}
	for _, bad := range []string{
		"", "/a", "api.example.com/a", "ftp://h/a", "https:///a", "https://user:pw@h/a",
		"https://h:99999/a", "https://h:+80/a", "https://h:x/a", "https://h%41/a", "https://[::1/a",
		"https://[::1]x/a", "https://[fe80::1%25eth0]/a", "https://a:b:80/a", "https://h/%zz", "https://h/%4",
	} {
		if got, err := dpop.NormalURI(bad); err == nil {
			t.Errorf("normalURI(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzNormalURI checks that normalisation never panics and is idempotent:
// a normal form is its own normal form.
func FuzzNormalURI(f *testing.F) {
	for _, s := range []string{"https://h/a", "HTTP://H:80/%7e/../b?x#y", "https://[::1]:8443/a%20b/./c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := dpop.NormalURI(s)
		if err != nil {
			return
		}
		again, err := dpop.NormalURI(n)
		if err != nil || again != n {
			t.Fatalf("normalURI(%q) = %q, whose normal form is %q, %v", s, n, again, err)
		}
	})
}
