package config

import (
	"context"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
)

// OnClientsReload makes the registry of f's clients_file report every
// reload attempt to fn (clients.Options.OnReload). Call it before f.Config.
func OnClientsReload(f *File, fn func(error)) { f.onReload = fn }

// Parts is what File.Config returns (the embedded Config) with the Configs
// it built Config.Tokens and Config.Clients from, for tests to read.
type Parts struct {
	dualauth.Config
	JWT     jwtauth.Config    // no Issuers: no Tokens
	Clients clientauth.Config // zero: no Clients
}

// ConfigParts is f.Config(ctx, opts), with the Configs of the methods.
func ConfigParts(ctx context.Context, f *File, opts Options) (Parts, error) {
	cfg, p, err := f.build(ctx, opts)
	out := Parts{Config: cfg, JWT: p.jwt}
	if p.clients != nil {
		out.Clients = *p.clients
	}
	return out, err
}

// LoadParts is Load(ctx, path, opts), with the Configs of the methods.
func LoadParts(ctx context.Context, path string, opts Options) (Parts, error) {
	f, err := Read(path)
	if err != nil {
		return Parts{}, err
	}
	return ConfigParts(ctx, f, opts)
}
