package clients

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/scopes"
)

// Limits of a registry file and of the credentials Verify considers.
const (
	// MaxFileBytes caps the size of a registry file (1 MiB).
	MaxFileBytes = 1 << 20
	// MaxClientIDBytes is the longest client_id a registry accepts.
	MaxClientIDBytes = 256
	// MaxSecretBytes is the longest secret Verify and HashSecret consider;
	// longer secrets are refused without hashing.
	MaxSecretBytes = 1024
	// MaxScopesPerClient is the most scopes one client may list.
	MaxScopesPerClient = 256
	// MaxAliasNodes caps the YAML nodes a file reaches through aliases,
	// counting an aliased node and everything under it each time an alias
	// uses it, so that a file cannot expand into more work than its size
	// and this bound allow.
	MaxAliasNodes = 100_000
)

// hashHint ends the error for a secret_hash that is no hash at all.
const hashHint = "secret_hash is not a bcrypt or argon2id hash (plaintext secrets are refused; hash it with: go run github.com/keyward/keyward/cmd/keyward@latest hash-secret)"

// fileKeys are the keys of one client in the file, in documentation order.
var fileKeys = []string{"client_id", "secret_hash", "scopes", "disabled"}

// parseFile parses and checks a registry file into its entries. Its errors
// name the client (or its position) and the problem, never hash material.
func parseFile(data []byte) (map[string]*entry, error) {
	l := &loader{aliasNodes: MaxAliasNodes}
	return l.parseFile(data)
}

func (l *loader) parseFile(data []byte) (map[string]*entry, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("the file is larger than %d bytes", MaxFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty; it must list clients")
		}
		return nil, fmt.Errorf("not valid YAML: %s", yamlMessage(err))
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file holds more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("the file is empty; it must list clients")
	}
	top, err := l.resolve(doc.Content[0])
	if err != nil {
		return nil, err
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must be a mapping with one key, clients", top.Line)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "clients" {
			return nil, fmt.Errorf("line %d: unknown key %q (the file has one key, clients)", k.Line, k.Value)
		}
		if list != nil {
			return nil, fmt.Errorf("line %d: key \"clients\" appears twice", k.Line)
		}
		if list, err = l.resolve(v); err != nil {
			return nil, err
		}
	}
	switch {
	case list == nil:
		return nil, errors.New("no clients key; the file must list clients")
	case isNull(list):
		return nil, fmt.Errorf("line %d: clients is empty; an empty registry would refuse every caller", list.Line)
	case list.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("line %d: clients must be a list", list.Line)
	case len(list.Content) == 0:
		return nil, fmt.Errorf("line %d: clients is empty; an empty registry would refuse every caller", list.Line)
	}

	entries := make(map[string]*entry, len(list.Content))
	lines := make(map[string]int, len(list.Content))
	for i, n := range list.Content {
		cn, err := l.resolve(n)
		if err != nil {
			return nil, fmt.Errorf("client #%d: %w", i+1, err)
		}
		e, err := l.parseClient(i, cn)
		if err != nil {
			return nil, err
		}
		if first, dup := lines[e.client.ID]; dup {
			return nil, fmt.Errorf("client %q: client_id appears twice (lines %d and %d)", e.client.ID, first, n.Line)
		}
		lines[e.client.ID] = n.Line
		entries[e.client.ID] = e
	}
	return entries, nil
}

// parseClient parses and checks the i-th client (from 0).
func (l *loader) parseClient(i int, n *yaml.Node) (*entry, error) {
	label := fmt.Sprintf("client #%d (line %d)", i+1, n.Line)
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: a client must be a mapping with client_id, secret_hash, scopes and disabled", label)
	}
	values := make(map[string]*yaml.Node, 4)
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		if !slices.Contains(fileKeys, k.Value) {
			return nil, fmt.Errorf("%s: line %d: unknown key %q (known keys: %s)", label, k.Line, k.Value, strings.Join(fileKeys, ", "))
		}
		if _, dup := values[k.Value]; dup {
			return nil, fmt.Errorf("%s: line %d: key %q appears twice", label, k.Line, k.Value)
		}
		values[k.Value] = v
	}
	// value resolves the value of key (nil if absent) when it is needed, so
	// that an alias that overruns MaxAliasNodes is reported with the label
	// that names the client if it can.
	value := func(key string) (*yaml.Node, error) {
		if values[key] == nil {
			return nil, nil
		}
		v, err := l.resolve(values[key])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		return v, nil
	}

	// client_id first, so that every later message can name the client.
	idNode, err := value("client_id")
	if err != nil {
		return nil, err
	}
	if idNode == nil {
		return nil, fmt.Errorf("%s: client_id is missing", label)
	}
	id, err := scalarString(idNode)
	if err != nil {
		return nil, fmt.Errorf("%s: client_id %w", label, err)
	}
	if err := checkClientID(id); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	label = fmt.Sprintf("client %q", id)

	hashNode, err := value("secret_hash")
	if err != nil {
		return nil, err
	}
	if hashNode == nil {
		return nil, fmt.Errorf("%s: secret_hash is missing (hash the secret with: go run github.com/keyward/keyward/cmd/keyward@latest hash-secret)", label)
	}
	hashText, err := scalarString(hashNode)
	if err != nil {
		return nil, fmt.Errorf("%s: secret_hash %w", label, err)
	}
	h, err := parseHash(hashText)
	if errors.Is(err, errUnrecognised) {
		return nil, fmt.Errorf("%s: line %d: %s", label, hashNode.Line, hashHint)
	}
	if err == nil {
		err = h.checkMinimums()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: secret_hash: %w", label, err)
	}

	scopesNode, err := value("scopes")
	if err != nil {
		return nil, err
	}
	var granted []string
	if s := scopesNode; s != nil && !isNull(s) {
		if s.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s: line %d: scopes must be a list such as [bookings:read, reports:read]", label, s.Line)
		}
		if len(s.Content) > MaxScopesPerClient {
			return nil, fmt.Errorf("%s: line %d: %d scopes listed; a client may list at most %d", label, s.Line, len(s.Content), MaxScopesPerClient)
		}
		seen := make(map[string]struct{}, len(s.Content))
		for _, sn := range s.Content {
			sn, err := l.resolve(sn)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
			scope, err := scalarString(sn)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: a scope %w", label, sn.Line, err)
			}
			if !scopes.Valid(scope) {
				return nil, fmt.Errorf("%s: line %d: scope %q is not a valid scope token (RFC 6749 §3.3: printable ASCII except space, \" and \\)", label, sn.Line, scope)
			}
			if _, dup := seen[scope]; !dup {
				seen[scope] = struct{}{}
				granted = append(granted, scope)
			}
		}
	}

	disabledNode, err := value("disabled")
	if err != nil {
		return nil, err
	}
	var disabled bool
	if d := disabledNode; d != nil && !isNull(d) {
		if d.Kind != yaml.ScalarNode || d.Tag != "!!bool" || d.Decode(&disabled) != nil {
			return nil, fmt.Errorf("%s: line %d: disabled must be true or false", label, d.Line)
		}
	}
	return &entry{client: Client{ID: id, Scopes: granted, Disabled: disabled}, hashText: hashText, hash: h}, nil
}

// checkClientID checks a client_id from the file.
func checkClientID(id string) error {
	switch {
	case id == "":
		return errors.New("client_id is empty")
	case len(id) > MaxClientIDBytes:
		return fmt.Errorf("client_id is longer than %d bytes", MaxClientIDBytes)
	case !utf8.ValidString(id):
		return errors.New("client_id is not valid UTF-8")
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return fmt.Errorf("client_id %q contains a control character", id)
	case strings.TrimSpace(id) != id:
		return fmt.Errorf("client_id %q starts or ends with white space, which HTTP headers cannot carry", id)
	}
	return nil
}

// scalarString returns the text of a scalar as written. Its errors complete
// a sentence whose subject is the key, and never quote the value.
func scalarString(n *yaml.Node) (string, error) {
	switch {
	case n.Kind != yaml.ScalarNode:
		return "", fmt.Errorf("must be a string (line %d)", n.Line)
	case n.Tag == "!!null":
		return "", nil
	case n.Tag == "!!binary":
		return "", fmt.Errorf("must be a plain string, not !!binary (line %d)", n.Line)
	}
	return n.Value, nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// yamlMessage shortens a go.yaml.in/yaml/v3 syntax error ("yaml: line 3:
// ..."); its syntax errors describe positions and tokens, not values.
func yamlMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
