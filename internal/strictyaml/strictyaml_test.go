package strictyaml_test

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/strictyaml"
)

// problem returns err as a *Problem, or fails the test.
func problem(t *testing.T, err error) *strictyaml.Problem {
	t.Helper()
	var p *strictyaml.Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T) is not a *strictyaml.Problem", err, err)
	}
	return p
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, data string
		max        int
		want       strictyaml.Kind // 0: no problem
		line       int
		error      string
	}{
		{"mapping", "a: 1\n", 100, 0, 0, ""},
		{"at the size limit", "a: 1\n", 5, 0, 0, ""},
		{"over the size limit", "a: 1\n", 4, strictyaml.TooLarge, 0, "the file is larger than 4 bytes"},
		{"nothing", "", 100, strictyaml.Empty, 0, "the file is empty"},
		{"comments only", "# nothing\n", 100, strictyaml.Empty, 0, "the file is empty"},
		{"syntax", "a: [1\nb: 2\n", 100, strictyaml.Syntax, 1, "line 1: invalid YAML: did not find expected ',' or ']'"},
		{"tab", "a:\n\tb: 1\n", 100, strictyaml.Syntax, 2, "line 2: invalid YAML: found character that cannot start any token"},
		{"second document", "a: 1\n---\nb: 2\n", 100, strictyaml.ExtraDocument, 2, "line 2: the file holds more than one YAML document"},
		{"empty second document", "a: 1\n---\n", 100, strictyaml.ExtraDocument, 0, ""},
		{"broken second document", "a: 1\n---\nb: [\n", 100, strictyaml.ExtraDocument, 3, "line 3: invalid YAML after the first document"},
		{"document end", "a: 1\n...\n", 100, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := strictyaml.Decode([]byte(tt.data), tt.max)
			if tt.want == 0 {
				if err != nil || n == nil || n.Kind != yaml.MappingNode {
					t.Fatalf("Decode = %v, %v; want a mapping", n, err)
				}
				return
			}
			if n != nil {
				t.Error("a node with the problem")
			}
			p := problem(t, err)
			if p.Kind != tt.want || (tt.line != 0 && p.Line != tt.line) || !strings.HasPrefix(p.Error(), tt.error) {
				t.Errorf("problem %+v (%q); want kind %d, line %d, %q", p, p, tt.want, tt.line, tt.error)
			}
		})
	}
	// A null document is a null node, for the format to judge.
	n, err := strictyaml.Decode([]byte("~\n"), 100)
	if err != nil || !strictyaml.IsNull(n) {
		t.Errorf("Decode(~) = %v, %v; want a null node", n, err)
	}
}

func TestFromYAML(t *testing.T) {
	var v struct{ A int }
	err := yaml.Unmarshal([]byte("a: x\nb: y\n"), &v)
	p := strictyaml.FromYAML(err)
	if p.Kind != strictyaml.Syntax || p.Line != 1 || strings.Contains(p.Msg, "\n") || !errors.Is(p, err) {
		t.Errorf("FromYAML(%q) = %+v", err, p)
	}
	p = strictyaml.FromYAML(errors.New("yaml: control characters are not allowed"))
	if p.Line != 0 || p.Msg != "control characters are not allowed" {
		t.Errorf("without a line: %+v", p)
	}
}

// root decodes data or fails the test.
func root(t *testing.T, data string) *yaml.Node {
	t.Helper()
	n, err := strictyaml.Decode([]byte(data), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMapping(t *testing.T) {
	known := []string{"issuers", "realm", "jwks_url"}
	tests := []struct {
		name, data string
		known      []string
		want       strictyaml.Kind // 0: no problem
		line       int
		error      string
	}{
		{"known keys", "realm: a\nissuers: []\n", known, 0, 0, ""},
		{"any key", "x: 1\ny: 2\n", nil, 0, 0, ""},
		{"alias key", "realm: &k jwks_url\n*k : x\n", known, 0, 0, ""},
		{"unknown key", "realm: a\njwks_uri: x\n", known, strictyaml.UnknownKey, 2, `line 2: unknown key "jwks_uri"; did you mean "jwks_url"?`},
		{"unknown key far from all", "version: 2\n", known, strictyaml.UnknownKey, 1, `line 1: unknown key "version"; known keys here: issuers, realm, jwks_url`},
		{"duplicate key", "realm: a\n\nrealm: b\n", known, strictyaml.DuplicateKey, 3, `line 3: key "realm" is set twice (first at line 1)`},
		{"duplicate free key", "x: 1\nx: 2\n", nil, strictyaml.DuplicateKey, 2, ""},
		{"list key", "? [a]\n: b\n", nil, strictyaml.KeyNotPlain, 1, "line 1: keys must be plain names, not a list"},
		{"merge key", "<<: {realm: a}\n", known, strictyaml.MergeKey, 1, "line 1: merge keys (<<) are not supported"},
		{"merge key among free names", "a: 1\n<<: {b: 2}\n", nil, strictyaml.MergeKey, 2, ""},
		{"quoted << is a name", "'<<': 1\n", nil, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w strictyaml.Walker
			var names []string
			err := w.Mapping(root(t, tt.data), tt.known, func(name string, k, v *yaml.Node) error {
				names = append(names, name)
				return nil
			})
			if tt.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			p := problem(t, err)
			if p.Kind != tt.want || p.Line != tt.line || !strings.HasPrefix(p.Error(), tt.error) {
				t.Errorf("problem %+v (%q); want kind %d, line %d, %q", p, p, tt.want, tt.line, tt.error)
			}
		})
	}

	// Keys come in file order, with their nodes; each's error stops the walk.
	var w strictyaml.Walker
	var got []string
	stop := errors.New("stop")
	err := w.Mapping(root(t, "b: 1\na: 2\nc: 3\n"), nil, func(name string, k, v *yaml.Node) error {
		got = append(got, name+"="+v.Value+"@"+string(rune('0'+k.Line)))
		if name == "a" {
			return stop
		}
		return nil
	})
	if err != stop || strings.Join(got, " ") != "b=1@1 a=2@2" {
		t.Errorf("Mapping: %v, visited %v", err, got)
	}
}

func TestCount(t *testing.T) {
	w := strictyaml.Walker{MaxNodes: 2}
	n := &yaml.Node{Kind: yaml.ScalarNode, Line: 7}
	for range 2 {
		if err := w.Count(n); err != nil {
			t.Fatal(err)
		}
	}
	p := problem(t, w.Count(n))
	if p.Kind != strictyaml.TooManyNodes || p.Line != 7 || p.Limit != 2 {
		t.Errorf("third node: %+v", p)
	}
	var unbounded strictyaml.Walker
	for range 100 {
		if err := unbounded.Count(n); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolve(t *testing.T) {
	// Each alias of the list costs its 4 nodes (the list and 3 values).
	doc := root(t, "a: &l [1, 2, 3]\nb: *l\nc: *l\nd: *l\n")
	aliases := []*yaml.Node{doc.Content[3], doc.Content[5], doc.Content[7]}
	w := strictyaml.Walker{MaxAliasNodes: 8}
	for _, a := range aliases[:2] {
		n, err := w.Resolve(a)
		if err != nil || n.Kind != yaml.SequenceNode || len(n.Content) != 3 {
			t.Fatalf("Resolve = %v, %v", n, err)
		}
	}
	_, err := w.Resolve(aliases[2])
	if p := problem(t, err); p.Kind != strictyaml.AliasExpansion || p.Line != 4 || p.Limit != 8 {
		t.Errorf("third alias: %+v", p)
	}
	// Nodes that are no aliases cost nothing, and are returned as they are.
	if n, err := w.Resolve(doc); n != doc || err != nil {
		t.Errorf("Resolve(mapping) = %v, %v", n, err)
	}
	// Without a bound, aliases are followed for free.
	var free strictyaml.Walker
	for range 100 {
		if _, err := free.Resolve(aliases[0]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKindName(t *testing.T) {
	doc := root(t, "a: [1]\nb: {c: d}\ne: &x 1\nf: *x\n")
	for i, want := range map[int]string{1: "list", 3: "mapping", 5: "single value", 7: "alias"} {
		if got := strictyaml.KindName(doc.Content[i]); got != want {
			t.Errorf("KindName of value %d = %q; want %q", i, got, want)
		}
	}
}
