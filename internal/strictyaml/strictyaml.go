// Package strictyaml is the strict YAML reading that Keyward's two file
// formats share: the configuration file (package config) and the client
// registry (package clients). It holds a file to exactly one document, keys
// to plain names that are known and set once, merge keys (<<) to nothing,
// and the work a file causes through aliases to a bound.
//
// It finds what is wrong and where, as a *Problem with the line; each format
// words the message in its own terms, since they differ (the configuration
// file names the dotted key path and suggests the key meant, the registry
// names the client).
package strictyaml

import (
	"github.com/keyward/keyward/internal/excerpt"

	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind is what a Problem is.
type Kind int

// Kinds of Problem, with the fields each sets besides Line.
const (
	// TooLarge: the data is larger than Limit bytes.
	TooLarge Kind = iota + 1
	// Empty: the data holds no document, only white space or comments.
	Empty
	// Syntax: the YAML parser refused the data; Msg says why.
	Syntax
	// ExtraDocument: another document follows the first at Line. If the
	// parser refused it, Msg says why.
	ExtraDocument
	// KeyNotPlain: a key is a list or a mapping (Got), not a name.
	KeyNotPlain
	// MergeKey: a merge key (<<).
	MergeKey
	// UnknownKey: Key is not one of Known.
	UnknownKey
	// DuplicateKey: Key is set again, first set at line First.
	DuplicateKey
	// TooManyNodes: the walk reached more than Limit nodes (Walker.Count).
	TooManyNodes
	// AliasExpansion: the alias at Line takes the nodes reached through
	// aliases over Limit (Walker.Resolve).
	AliasExpansion
)

// Problem is what is wrong with a file, and where. Error words it plainly;
// a file format may word it its own way from the fields.
type Problem struct {
	Kind Kind
	// Line is the 1-based line of the problem, 0 if it has none.
	Line int
	// Key is the key concerned (UnknownKey, DuplicateKey, MergeKey), as
	// written and unquoted.
	Key string
	// Known are the keys allowed where an unknown one was found, in order.
	Known []string
	// First is the line a duplicate key was first set at.
	First int
	// Got names what a key that is not a plain name is (see KindName).
	Got string
	// Limit is the bound exceeded (TooLarge, TooManyNodes, AliasExpansion).
	Limit int
	// Msg is the parser's reason (Syntax, ExtraDocument), without "yaml: "
	// and the line.
	Msg string
	// Err is the parser's error (Syntax, ExtraDocument).
	Err error
}

// Error words p with its line, as "line N: what is wrong".
func (p *Problem) Error() string {
	var what string
	switch p.Kind {
	case TooLarge:
		what = fmt.Sprintf("the file is larger than %d bytes", p.Limit)
	case Empty:
		what = "the file is empty"
	case Syntax:
		what = "invalid YAML: " + p.Msg
	case ExtraDocument:
		what = "the file holds more than one YAML document"
		if p.Msg != "" {
			what = "invalid YAML after the first document: " + p.Msg
		}
	case KeyNotPlain:
		what = "keys must be plain names, not a " + p.Got
	case MergeKey:
		what = "merge keys (<<) are not supported; write the keys out"
	case UnknownKey:
		what = fmt.Sprintf("unknown key %s; %s", excerpt.Quote(p.Key), Suggest(p.Key, p.Known))
	case DuplicateKey:
		what = fmt.Sprintf("key %s is set twice (first at line %d)", excerpt.Quote(p.Key), p.First)
	case TooManyNodes:
		what = fmt.Sprintf("the file has too many values or aliases (more than %d)", p.Limit)
	case AliasExpansion:
		what = fmt.Sprintf("the aliases of the file expand to more than %d YAML nodes", p.Limit)
	default:
		what = "unreadable YAML"
	}
	if p.Line > 0 {
		return "line " + strconv.Itoa(p.Line) + ": " + what
	}
	return what
}

// Unwrap returns the parser's error, if any.
func (p *Problem) Unwrap() error { return p.Err }

// Decode parses data as one YAML document and returns its root node, which
// a document of only "~" or "---" leaves a null scalar (see IsNull). Its
// errors are *Problem: TooLarge if data has more than maxBytes, Empty,
// Syntax, ExtraDocument.
func Decode(data []byte, maxBytes int) (*yaml.Node, error) {
	if len(data) > maxBytes {
		return nil, &Problem{Kind: TooLarge, Limit: maxBytes}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problem{Kind: Empty}
		}
		return nil, FromYAML(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			p := FromYAML(err)
			p.Kind = ExtraDocument
			return nil, p
		}
		return nil, &Problem{Kind: ExtraDocument, Line: next.Line}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Problem{Kind: Empty}
	}
	return doc.Content[0], nil
}

// FromYAML makes a Syntax problem of an error of the YAML library: "yaml:
// line 3: did not find expected key" has Line 3 and Msg "did not find
// expected key". Of a list of errors (from a decode into Go values) only the
// first is kept.
func FromYAML(err error) *Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimSpace(strings.TrimPrefix(msg, "unmarshal errors:"))
	msg, _, _ = strings.Cut(msg, "\n")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, after
			}
		}
	}
	return &Problem{Kind: Syntax, Line: line, Msg: msg, Err: err}
}

// Walker keeps count of the work of walking one file's tree. The zero
// Walker has no bounds; a Walker is for one file and one goroutine.
type Walker struct {
	// MaxNodes bounds the nodes Count is called for; 0 means no bound.
	MaxNodes int
	// MaxAliasNodes bounds the nodes Resolve reaches through aliases,
	// counting an anchored node and everything under it each time an alias
	// uses it, so that a file cannot expand into more work than its size
	// and this bound allow; 0 means no bound.
	MaxAliasNodes int

	nodes      int
	aliasNodes int
}

// Count charges one node visited by the walk, n, against MaxNodes, and
// returns a TooManyNodes problem at n's line once they are exceeded.
func (w *Walker) Count(n *yaml.Node) error {
	w.nodes++
	if w.MaxNodes > 0 && w.nodes > w.MaxNodes {
		return &Problem{Kind: TooManyNodes, Line: n.Line, Limit: w.MaxNodes}
	}
	return nil
}

// Resolve follows an alias to its anchored node and returns it; any other
// node is returned as it is. Anchors are defined before use, so there are
// no cycles; but each use of an alias makes the walk go through the anchored
// node again, so a small file aliasing a large list many times would expand
// into work far beyond its size. Each alias followed is charged the nodes
// under its anchor against MaxAliasNodes; an AliasExpansion problem at the
// alias's line says they are exceeded.
func (w *Walker) Resolve(n *yaml.Node) (*yaml.Node, error) {
	if n.Kind != yaml.AliasNode {
		return n, nil
	}
	alias := n
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if w.MaxAliasNodes <= 0 {
		return n, nil
	}
	left := w.MaxAliasNodes - w.aliasNodes
	w.aliasNodes += countNodes(n, left+1)
	if w.aliasNodes > w.MaxAliasNodes {
		return nil, &Problem{Kind: AliasExpansion, Line: alias.Line, Limit: w.MaxAliasNodes}
	}
	return n, nil
}

// countNodes counts the nodes of the tree at n, an alias inside it as one
// (it is charged when followed), and stops counting beyond limit.
func countNodes(n *yaml.Node, limit int) int {
	count := 1
	for _, c := range n.Content {
		if count > limit {
			break
		}
		count += countNodes(c, limit-count)
	}
	return count
}

// Mapping checks the keys of the mapping node n and calls each with every
// key's name, its node and its value's node (not resolved), in file order,
// stopping at the first error. A key that is an alias is resolved. Its
// problems, in the order checked for each key: KeyNotPlain, MergeKey,
// UnknownKey (a key not in known; nil known allows any name), DuplicateKey.
// An error of each is returned as it is.
func (w *Walker) Mapping(n *yaml.Node, known []string, each func(name string, key, value *yaml.Node) error) error {
	var seen map[string]int
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		k, err := w.Resolve(k)
		if err != nil {
			return err
		}
		name := k.Value
		switch {
		case k.Kind != yaml.ScalarNode:
			return &Problem{Kind: KeyNotPlain, Line: k.Line, Got: KindName(k)}
		case name == "<<" && k.ShortTag() == "!!merge":
			return &Problem{Kind: MergeKey, Line: k.Line, Key: name}
		case known != nil && !slices.Contains(known, name):
			return &Problem{Kind: UnknownKey, Line: k.Line, Key: name, Known: known}
		}
		if first, dup := seen[name]; dup {
			return &Problem{Kind: DuplicateKey, Line: k.Line, Key: name, First: first}
		}
		if seen == nil {
			seen = make(map[string]int, len(n.Content)/2)
		}
		seen[name] = k.Line
		if err := each(name, k, v); err != nil {
			return err
		}
	}
	return nil
}

// IsNull reports whether n is a null scalar: ~, null, or nothing at all.
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// KindName names the shape of n for a message: "mapping", "list", "single
// value", "alias" or "document".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.AliasNode:
		return "alias"
	default:
		return "document"
	}
}

// Suggest names the known key closest to a misspelt one (`did you mean
// "jwks_url"?`), or lists them all ("known keys here: a, b").
func Suggest(name string, known []string) string {
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
