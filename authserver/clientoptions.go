package authserver

import (
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/strictyaml"
)

// Access-token formats of ClientOptions.TokenFormat.
const (
	// TokenFormatJWT is an RFC 9068 JWT access token signed by the server,
	// the default.
	TokenFormatJWT = "jwt"
	// TokenFormatOpaque is an opaque (reference) access token: OpaqueTokenPrefix
	// and 256 random bits in base64url, meaningful only to the server's
	// introspection endpoint (RFC 7662).
	TokenFormatOpaque = "opaque"
)

// ClientOptions are what the server does for one client beyond what the
// registry holds (its secret, scopes and whether it is enabled).
type ClientOptions struct {
	// TokenFormat is the format of the client's access tokens from every
	// token endpoint and grant: TokenFormatJWT (the default when empty) or
	// TokenFormatOpaque.
	TokenFormat string
	// Introspect allows the client to call the introspection endpoint
	// (PathIntrospect), as a resource server does to check opaque tokens.
	Introspect bool
}

// MaxClientOptionsFileBytes caps the size of a client options file.
const MaxClientOptionsFileBytes = 1 << 20

// The keys of a client options file and of one client in it.
var (
	optionsTopKeys    = []string{"clients"}
	optionsClientKeys = []string{"client_id", "token_format", "introspect"}
)

// ReadClientOptions reads a client options file for Config.ClientOptions:
//
//	clients:
//	  - client_id: globex
//	    token_format: opaque   # jwt (the default) or opaque
//	  - client_id: keyward-rs
//	    introspect: true       # may call the introspection endpoint; default false
//
// A client the file does not list gets JWTs and may not introspect. Errors
// name the file, the line and the key.
func ReadClientOptions(path string) (map[string]ClientOptions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authserver: client options: %w", err)
	}
	opts, err := ParseClientOptions(data)
	if err != nil {
		return nil, fmt.Errorf("authserver: client options %s: %w", path, err)
	}
	return opts, nil
}

// ParseClientOptions parses the content of a client options file (see
// ReadClientOptions). Its errors name the line and the key.
func ParseClientOptions(data []byte) (map[string]ClientOptions, error) {
	top, err := strictyaml.Decode(data, MaxClientOptionsFileBytes)
	if err != nil {
		return nil, err
	}
	w := &strictyaml.Walker{MaxAliasNodes: 10_000}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must be a mapping with one key, clients", top.Line)
	}
	var list *yaml.Node
	if err := w.Mapping(top, optionsTopKeys, func(_ string, _, v *yaml.Node) (err error) {
		list, err = w.Resolve(v)
		return err
	}); err != nil {
		return nil, err
	}
	switch {
	case list == nil:
		return nil, errors.New("no clients key; the file must list clients")
	case list.Kind != yaml.SequenceNode && !strictyaml.IsNull(list):
		return nil, fmt.Errorf("line %d: clients must be a list", list.Line)
	}
	out := make(map[string]ClientOptions, len(list.Content))
	lines := make(map[string]int, len(list.Content))
	for _, n := range list.Content {
		n, err := w.Resolve(n)
		if err != nil {
			return nil, err
		}
		id, opts, err := parseClientOptions(w, n)
		if err != nil {
			return nil, err
		}
		if first, dup := lines[id]; dup {
			return nil, fmt.Errorf("line %d: client %q is listed twice (first at line %d)", n.Line, id, first)
		}
		lines[id] = n.Line
		out[id] = opts
	}
	return out, nil
}

// parseClientOptions parses one client of a client options file.
func parseClientOptions(w *strictyaml.Walker, n *yaml.Node) (string, ClientOptions, error) {
	var opts ClientOptions
	if n.Kind != yaml.MappingNode {
		return "", opts, fmt.Errorf("line %d: a client must be a mapping with client_id, token_format and introspect", n.Line)
	}
	var id string
	err := w.Mapping(n, optionsClientKeys, func(name string, _, v *yaml.Node) error {
		v, err := w.Resolve(v)
		if err != nil {
			return err
		}
		if v.Kind != yaml.ScalarNode || strictyaml.IsNull(v) {
			return fmt.Errorf("line %d: %s must be a single value", v.Line, name)
		}
		switch name {
		case "client_id":
			id = v.Value
		case "token_format":
			opts.TokenFormat = v.Value
			if err := checkTokenFormat(v.Value); err != nil {
				return fmt.Errorf("line %d: token_format: %w", v.Line, err)
			}
		case "introspect":
			if v.ShortTag() != "!!bool" || v.Decode(&opts.Introspect) != nil {
				return fmt.Errorf("line %d: introspect must be true or false", v.Line)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return "", opts, err
	case id == "":
		return "", opts, fmt.Errorf("line %d: client_id is missing or empty", n.Line)
	}
	return id, opts, nil
}

// checkTokenFormat accepts the token formats the server issues; empty is
// the default, TokenFormatJWT.
func checkTokenFormat(format string) error {
	switch format {
	case "", TokenFormatJWT, TokenFormatOpaque:
		return nil
	}
	return fmt.Errorf("%q is not a token format (use %s or %s)", format, TokenFormatJWT, TokenFormatOpaque)
}
