package config

import (
	"github.com/keyward/keyward/internal/excerpt"

	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/strictyaml"
)

// maxNodes bounds the YAML nodes a configuration file may expand to,
// aliases included; real files have a few hundred.
const maxNodes = 10000

// parse decodes data; file, if not empty, is named in errors.
func parse(data []byte, file string) (*File, error) {
	f := &File{file: file, lines: map[string]int{}}
	top, err := strictyaml.Decode(data, MaxFileBytes)
	if err != nil {
		return nil, f.problem(err, "")
	}
	if strictyaml.IsNull(top) {
		return nil, f.problem(&strictyaml.Problem{Kind: strictyaml.Empty}, "")
	}
	if top.Kind != yaml.MappingNode {
		return nil, f.errorAt(top.Line, "", "the top level must be a mapping of keys such as mode, realm and jwt, not a %s", strictyaml.KindName(top))
	}
	w := walker{f: f, w: strictyaml.Walker{MaxNodes: maxNodes}}
	if err := w.walk(top, reflect.TypeFor[File](), ""); err != nil {
		return nil, err
	}
	// The walk has checked keys and types with better messages; KnownFields
	// stays on as a second guard.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(f); err != nil {
		return nil, f.syntaxError(strictyaml.FromYAML(err))
	}
	if _, err := f.checked(); err != nil {
		return nil, err
	}
	return f, nil
}

// The walk checks a decoded YAML tree against the File types before the
// real decode: unknown and repeated keys, and values of the wrong shape, are
// reported with the dotted path of the key (jwt.issuers[0].jwks_url), which
// the YAML library does not know. It also records the line of every key,
// for the messages of later checks.

var durationType = reflect.TypeFor[Duration]()

type walker struct {
	f *File
	w strictyaml.Walker // counts every node visited, aliases expanded
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) error {
	if err := w.w.Count(n); err != nil {
		return w.f.problem(err, path)
	}
	// Errors about the value itself point at where it is used, which for an
	// alias is not where its anchor is.
	site := n.Line
	n, err := w.w.Resolve(n) // never fails: the walker has no alias bound, Count is the bound
	if err != nil {
		return w.f.problem(err, path)
	}
	if strictyaml.IsNull(n) {
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
			return w.f.errorAt(site, path, "must be a list such as [a, b], not a %s", strictyaml.KindName(n))
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
		return w.f.errorAt(site, path, "must be a single value, not a %s", strictyaml.KindName(n))
	}
	if t.Kind() == reflect.Bool && (n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 || n.ShortTag() != "!!bool") {
		// Only a plain true or false: YAML 1.1 words (yes, off) and quoted
		// text would be read as a guess.
		return w.f.errorAt(site, path, "%s is not true or false", excerpt.Quote(n.Value))
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		var msg string
		switch {
		case t == durationType:
			msg = err.Error() // Duration.UnmarshalYAML's own words
		case t.Kind() == reflect.Bool:
			msg = excerpt.Quote(n.Value) + " is not true or false"
		case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
			msg = excerpt.Quote(n.Value) + " is not a whole number"
		default:
			msg = excerpt.Quote(n.Value) + " is not a valid value"
		}
		return w.f.errorAt(site, path, "%s", msg)
	}
	return nil
}

func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string, site int) error {
	names, types := yamlFields(t)
	if n.Kind != yaml.MappingNode {
		return w.f.errorAt(site, path, "must be a mapping of keys (%s), not a %s", strings.Join(names, ", "), strictyaml.KindName(n))
	}
	err := w.w.Mapping(n, names, func(name string, k, v *yaml.Node) error {
		child := childPath(path, name)
		if !strictyaml.IsNull(v) {
			w.f.lines[child] = k.Line
		}
		return w.walk(v, types[name], child)
	})
	return w.f.problem(err, path)
}

// stringMap checks a mapping of free names to strings, such as
// credentials.exchange.params. Values must be YAML strings: a number or
// boolean would be sent as text the file did not show (1.0, yes), so it has
// to be quoted.
func (w *walker) stringMap(n *yaml.Node, path string, site int) error {
	if n.Kind != yaml.MappingNode {
		return w.f.errorAt(site, path, "must be a mapping of names to text, such as {response_type: token}, not a %s", strictyaml.KindName(n))
	}
	err := w.w.Mapping(n, nil, func(name string, k, v *yaml.Node) error {
		if err := w.w.Count(k); err != nil {
			return err
		}
		child := childPath(path, name)
		w.f.lines[child] = k.Line
		site := v.Line
		v, err := w.w.Resolve(v)
		if err != nil {
			return err
		}
		switch {
		case v.Kind != yaml.ScalarNode:
			return w.f.errorAt(site, child, "must be a single value, not a %s", strictyaml.KindName(v))
		case strictyaml.IsNull(v):
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
		return nil
	})
	return w.f.problem(err, path)
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
