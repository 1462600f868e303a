package clients

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/strictyaml"
	"github.com/keyward/keyward/scopes"
)

// Limits of a registry file and of the credentials Verify considers.
const (
	// MaxFileBytes caps the size of a registry file (1 MiB).
	MaxFileBytes = 1 << 20
	// MaxClientIDBytes is the longest client_id a registry accepts: the
	// longest an Authenticator passes on.
	MaxClientIDBytes = dualauth.MaxClientIDBytes
	// MaxSecretBytes is the longest secret Verify and HashSecret consider;
	// longer secrets are refused without hashing.
	MaxSecretBytes = dualauth.MaxSecretBytes
	// MaxScopesPerClient is the most scopes one client may list.
	MaxScopesPerClient = 256
	// MaxAliasNodes caps the YAML nodes a file reaches through aliases,
	// counting an aliased node and everything under it each time an alias
	// uses it, so that a file cannot expand into more work than its size
	// and this bound allow.
	MaxAliasNodes = 100_000
)

// hashHint ends the error for a secret_hash that is no hash at all.
const hashHint = "secret_hash is not a bcrypt or argon2id hash (plaintext secrets are refused; hash it with: go run ./cmd/keyward hash-secret in a clone of Keyward)"

// The keys of the file and of one client in it, in documentation order.
var (
	topKeys  = []string{"clients"}
	fileKeys = []string{"client_id", "secret_hash", "scopes", "disabled"}
)

// parseFile parses and checks a registry file into its entries. Its errors
// name the client (or its position) and the problem, never hash material.
func parseFile(data []byte) (map[string]*entry, error) {
	l := &loader{w: strictyaml.Walker{MaxAliasNodes: MaxAliasNodes}}
	return l.parseFile(data)
}

// loader parses one file, keeping count of the work its aliases cause.
type loader struct{ w strictyaml.Walker }

func (l *loader) parseFile(data []byte) (map[string]*entry, error) {
	top, err := strictyaml.Decode(data, MaxFileBytes)
	if err != nil {
		return nil, fileError(err)
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must be a mapping with one key, clients", top.Line)
	}
	var list *yaml.Node
	err = l.w.Mapping(top, topKeys, func(_ string, _, v *yaml.Node) (err error) {
		list, err = l.w.Resolve(v)
		return err
	})
	if err != nil {
		return nil, keyError(err, "the file has one key, clients")
	}
	switch {
	case list == nil:
		return nil, errors.New("no clients key; the file must list clients")
	case strictyaml.IsNull(list):
		return nil, fmt.Errorf("line %d: clients is empty; an empty registry would refuse every caller", list.Line)
	case list.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("line %d: clients must be a list", list.Line)
	case len(list.Content) == 0:
		return nil, fmt.Errorf("line %d: clients is empty; an empty registry would refuse every caller", list.Line)
	}

	entries := make(map[string]*entry, len(list.Content))
	lines := make(map[string]int, len(list.Content))
	for i, n := range list.Content {
		cn, err := l.w.Resolve(n)
		if err != nil {
			return nil, fmt.Errorf("client #%d: %w", i+1, aliasError(err))
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
	err := l.w.Mapping(n, fileKeys, func(name string, _, v *yaml.Node) error {
		values[name] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, keyError(err, "known keys: "+strings.Join(fileKeys, ", ")))
	}
	// value resolves the value of key (nil if absent) when it is needed, so
	// that an alias that overruns MaxAliasNodes is reported with the label
	// that names the client if it can.
	value := func(key string) (*yaml.Node, error) {
		if values[key] == nil {
			return nil, nil
		}
		v, err := l.w.Resolve(values[key])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, aliasError(err))
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
		return nil, fmt.Errorf("%s: secret_hash is missing (hash the secret with: go run ./cmd/keyward hash-secret in a clone of Keyward)", label)
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
	if s := scopesNode; s != nil && !strictyaml.IsNull(s) {
		if s.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s: line %d: scopes must be a list such as [bookings:read, reports:read]", label, s.Line)
		}
		if len(s.Content) > MaxScopesPerClient {
			return nil, fmt.Errorf("%s: line %d: %d scopes listed; a client may list at most %d", label, s.Line, len(s.Content), MaxScopesPerClient)
		}
		seen := make(map[string]struct{}, len(s.Content))
		for _, sn := range s.Content {
			sn, err := l.w.Resolve(sn)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", label, aliasError(err))
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
	if d := disabledNode; d != nil && !strictyaml.IsNull(d) {
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

// fileError words a problem of strictyaml.Decode for a registry file.
func fileError(err error) error {
	var p *strictyaml.Problem
	if !errors.As(err, &p) {
		return err
	}
	switch p.Kind {
	case strictyaml.Empty:
		return errors.New("the file is empty; it must list clients")
	case strictyaml.Syntax:
		// Its syntax errors describe positions and tokens, not values.
		msg := p.Msg
		if p.Line > 0 {
			msg = fmt.Sprintf("line %d: %s", p.Line, msg)
		}
		return errors.New("not valid YAML: " + msg)
	case strictyaml.ExtraDocument:
		return errors.New("the file holds more than one YAML document")
	}
	return errors.New(p.Error())
}

// keyError words a problem of a mapping's keys; known ends the message for
// an unknown key. Keys are quoted in full: they are names, never secrets.
func keyError(err error, known string) error {
	var p *strictyaml.Problem
	if !errors.As(err, &p) {
		return err
	}
	switch p.Kind {
	case strictyaml.UnknownKey:
		return fmt.Errorf("line %d: unknown key %q (%s)", p.Line, p.Key, known)
	case strictyaml.DuplicateKey:
		return fmt.Errorf("line %d: key %q appears twice", p.Line, p.Key)
	}
	return aliasError(err)
}

// aliasError words a problem of the walker.
func aliasError(err error) error {
	var p *strictyaml.Problem
	if !errors.As(err, &p) {
		return err
	}
	if p.Kind == strictyaml.AliasExpansion {
		return fmt.Errorf("line %d: the aliases of the file expand to more than %d YAML nodes; write repeated parts out, or list fewer", p.Line, p.Limit)
	}
	return errors.New(p.Error())
}
