package clients_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward/clients"
)

// cheapHash is a hash at the least cost, for the files Parse accepts (it
// checks one secret against their dummy); it refuses the others before
// hashing anything.
func cheapHash(t *testing.T) string { return hashOf(t, "s", argonMin) }

// scopeList writes n distinct scopes as a block list, indented for a client.
func scopeList(b *strings.Builder, n int) {
	for i := range n {
		fmt.Fprintf(b, "      - s%x\n", i)
	}
}

// TestParseScopeLimit: a client lists at most MaxScopesPerClient scopes. The
// review's file, one client with 79,869 scopes in 1 MiB, took seconds to
// de-duplicate; it is now refused before its scopes are looked at.
func TestParseScopeLimit(t *testing.T) {
	t.Parallel()
	file := func(n int) string {
		var b strings.Builder
		b.WriteString("clients:\n  - client_id: a\n    secret_hash: \"" + cheapHash(t) + "\"\n    scopes:\n")
		scopeList(&b, n)
		return b.String()
	}
	r := mustParse(t, []byte(file(clients.MaxScopesPerClient)))
	if c, _ := r.Lookup("a"); len(c.Scopes) != clients.MaxScopesPerClient {
		t.Errorf("%d scopes; want %d", len(c.Scopes), clients.MaxScopesPerClient)
	}

	big := file(79869)
	for len(big) > clients.MaxFileBytes {
		big = big[:strings.LastIndex(big[:len(big)-1], "\n")+1]
	}
	for _, tt := range []struct {
		name, file string
		n          int
	}{
		{"one over", file(clients.MaxScopesPerClient + 1), clients.MaxScopesPerClient + 1},
		{"1 MiB of scopes", big, strings.Count(big, "      - ")},
	} {
		_, err := clients.Parse([]byte(tt.file))
		want := fmt.Sprintf(`clients: client "a": line 5: %d scopes listed; a client may list at most 256`, tt.n)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", tt.name, err, want)
		}
	}
}

// TestParseScopeDuplicates: duplicates are dropped in linear time, up to
// the limit of listed scopes.
func TestParseScopeDuplicates(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("clients:\n  - client_id: a\n    secret_hash: \"" + cheapHash(t) + "\"\n    scopes:\n")
	for i := range clients.MaxScopesPerClient {
		fmt.Fprintf(&b, "      - s%d\n", i%3)
	}
	r := mustParse(t, []byte(b.String()))
	if c, _ := r.Lookup("a"); strings.Join(c.Scopes, " ") != "s0 s1 s2" {
		t.Errorf("scopes %v; want [s0 s1 s2]", c.Scopes)
	}
}

// TestParseAliasBudget: aliases may not expand a file into more than
// MaxAliasNodes nodes. The review's file aliased an 8,000-scope list from
// 101 clients (800,000 scope checks from 110 KB); the list alone is now
// over the scope limit, and a list at the limit aliased from enough clients
// is over the budget.
func TestParseAliasBudget(t *testing.T) {
	t.Parallel()
	file := func(scopes, aliases int) string {
		var b strings.Builder
		b.WriteString("clients:\n  - client_id: a\n    secret_hash: &h \"" + cheapHash(t) + "\"\n    scopes: &s\n")
		scopeList(&b, scopes)
		for i := range aliases {
			fmt.Fprintf(&b, "  - {client_id: c%d, secret_hash: *h, scopes: *s}\n", i)
		}
		return b.String()
	}
	// Each alias of the list costs its 257 nodes (the list and its scopes),
	// each alias of the hash 1.
	const perClient = clients.MaxScopesPerClient + 2
	fits := clients.MaxAliasNodes / perClient
	if r := mustParse(t, []byte(file(clients.MaxScopesPerClient, fits))); r.Len() != fits+1 {
		t.Errorf("%d clients; want %d", r.Len(), fits+1)
	}

	_, err := clients.Parse([]byte(file(clients.MaxScopesPerClient, fits+1)))
	line := 5 + clients.MaxScopesPerClient + fits
	want := fmt.Sprintf("clients: client %q: line %d: the aliases of the file expand to more than 100000 YAML nodes", fmt.Sprint("c", fits), line)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("one client over the budget: %v\nwant %s...", err, want)
	}

	_, err = clients.Parse([]byte(file(8000, 100)))
	if err == nil || !strings.Contains(err.Error(), `client "a": line 4: 8000 scopes listed; a client may list at most 256`) {
		t.Errorf("the review's alias file: %v", err)
	}

	// Reusing a whole client through an alias fails at its first reuse (a
	// duplicate client_id), before it can be walked again and again.
	var b strings.Builder
	b.WriteString("clients:\n  - &c {client_id: a, secret_hash: \"" + cheapHash(t) + "\", scopes: [x]}\n")
	for range 100 {
		b.WriteString("  - *c\n")
	}
	if _, err := clients.Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "client_id appears twice") {
		t.Errorf("an aliased client: %v", err)
	}
}
