package dualauth

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The walk checks a decoded YAML tree against the ConfigFile types before
// the real decode: unknown and repeated keys, and values of the wrong shape,
// are reported with the dotted path of the key (jwt.issuers[0].jwks_url),
// which the YAML library does not know. It also records the line of every
// key, for the messages of later checks.

var durationType = reflect.TypeFor[Duration]()

type walker struct {
	f     *ConfigFile
	nodes int
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) error {
	w.nodes++
	if w.nodes > maxConfigNodes {
		return w.f.errorAt(n.Line, "", "the file has too many values or aliases (more than %d)", maxConfigNodes)
	}
	// Errors about the value itself point at where it is used, which for an
	// alias is not where its anchor is.
	site := n.Line
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil // the same as omitting the key
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType || slices.Contains([]reflect.Kind{reflect.String, reflect.Bool, reflect.Int, reflect.Int64}, t.Kind()):
		return w.scalar(n, t, path, site)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return w.f.errorAt(site, path, "must be a list such as [a, b], not a %s", kindName(n))
		}
		for i, c := range n.Content {
			at := fmt.Sprintf("%s[%d]", path, i)
			w.f.lines[at] = c.Line
			if err := w.walk(c, t.Elem(), at); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Struct:
		return w.mapping(n, t, path, site)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		return w.stringMap(n, path, site)
	}
	return w.f.errorAt(site, path, "cannot be read (unsupported type %s)", t)
}

func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string, site int) error {
	if n.Kind != yaml.ScalarNode {
		return w.f.errorAt(site, path, "must be a single value, not a %s", kindName(n))
	}
	if t.Kind() == reflect.Bool && (n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 || n.ShortTag() != "!!bool") {
		// Only a plain true or false: YAML 1.1 words (yes, off) and quoted
		// text would be read as a guess.
		return w.f.errorAt(site, path, "%s is not true or false", quoteValue(n.Value))
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		var msg string
		switch {
		case t == durationType:
			msg = err.Error() // Duration.UnmarshalYAML's own words
		case t.Kind() == reflect.Bool:
			msg = quoteValue(n.Value) + " is not true or false"
		case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
			msg = quoteValue(n.Value) + " is not a whole number"
		default:
			msg = quoteValue(n.Value) + " is not a valid value"
		}
		return w.f.errorAt(site, path, "%s", msg)
	}
	return nil
}

func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string, site int) error {
	names, types := yamlFields(t)
	if n.Kind != yaml.MappingNode {
		return w.f.errorAt(site, path, "must be a mapping of keys (%s), not a %s", strings.Join(names, ", "), kindName(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return w.f.errorAt(k.Line, path, "keys must be plain names, not a %s", kindName(k))
		}
		name := k.Value
		if name == "<<" && k.ShortTag() == "!!merge" {
			return w.f.errorAt(k.Line, path, "merge keys (<<) are not supported; write the keys out")
		}
		ft, known := types[name]
		if !known {
			return w.f.errorAt(k.Line, "", "unknown key %s %s; %s", quoteValue(name), where(path), suggest(name, names))
		}
		child := name
		if path != "" {
			child = path + "." + name
		}
		if line, dup := seen[name]; dup {
			return w.f.errorAt(k.Line, child, "is set twice (first at line %d)", line)
		}
		seen[name] = k.Line
		if !(v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null") {
			w.f.lines[child] = k.Line
		}
		if err := w.walk(v, ft, child); err != nil {
			return err
		}
	}
	return nil
}

// stringMap checks a mapping of free names to strings, such as
// credentials.exchange.params. Values must be YAML strings: a number or
// boolean would be sent as text the file did not show (1.0, yes), so it has
// to be quoted.
func (w *walker) stringMap(n *yaml.Node, path string, site int) error {
	if n.Kind != yaml.MappingNode {
		return w.f.errorAt(site, path, "must be a mapping of names to text, such as {response_type: token}, not a %s", kindName(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		w.nodes++
		if w.nodes > maxConfigNodes {
			return w.f.errorAt(k.Line, "", "the file has too many values or aliases (more than %d)", maxConfigNodes)
		}
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return w.f.errorAt(k.Line, path, "keys must be plain names, not a %s", kindName(k))
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			return w.f.errorAt(k.Line, path, "merge keys (<<) are not supported; write the keys out")
		}
		name := k.Value
		if r := []rune(name); len(r) > 40 {
			name = string(r[:40]) + "…" // errors never carry much of the file
		}
		child := path + "." + name
		if line, dup := seen[k.Value]; dup {
			return w.f.errorAt(k.Line, child, "is set twice (first at line %d)", line)
		}
		seen[k.Value] = k.Line
		w.f.lines[child] = k.Line
		site := v.Line
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		switch {
		case v.Kind != yaml.ScalarNode:
			return w.f.errorAt(site, child, "must be a single value, not a %s", kindName(v))
		case v.ShortTag() == "!!null":
			return w.f.errorAt(site, child, "needs a value (write \"\" for an empty one)")
		case v.ShortTag() != "!!str":
			// The value is not quoted back: parameters may be confidential.
			read := "a " + strings.TrimPrefix(v.ShortTag(), "!!")
			switch v.ShortTag() {
			case "!!int", "!!float":
				read = "a number"
			case "!!bool":
				read = "true or false"
			}
			return w.f.errorAt(site, child, "must be text, but YAML reads it as %s; quote the value", read)
		}
	}
	return nil
}

func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// yamlFields returns the keys of struct type t, in order, and their types.
func yamlFields(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	types := map[string]reflect.Type{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		names = append(names, name)
		types[name] = sf.Type
	}
	return names, types
}

// suggest names the known key closest to a misspelt one, or lists them all.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "known keys here: " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
