package suite

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyward/keyward/clients"
)

// The client that client-credential requests present.
const (
	ClientID     = "globex"
	ClientSecret = "globex-secret-for-benchmarks"
)

// ClientsYAML returns a client registry file with ClientID, its secret
// hashed with clients.HashSecret's defaults (bcrypt, cost 12: what
// `keyward hash-secret` writes, about 250 ms a check), and Scope.
func ClientsYAML() ([]byte, error) {
	hash, err := clients.HashSecret(ClientSecret, clients.HashParams{})
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "clients:\n  - client_id: %s\n    secret_hash: %q\n    scopes: [%s, reports:read]\n", ClientID, hash, Scope), nil
}

// WriteClientsFile writes ClientsYAML into dir and returns its path.
func WriteClientsFile(dir string) (string, error) {
	data, err := ClientsYAML()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "clients.yaml")
	return path, os.WriteFile(path, data, 0o600)
}
