package main

import (
	"net/netip"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/internal/clientaddr"
)

// forwardAuthConfig returns the forwardauth.Config that the file's
// forward_auth section describes, checked, with every problem at the line
// and key of the file. The client credential headers and
// credentials.trusted_proxies (proxies in front of the trusted ones, for
// the client address) come from the credentials section. Made here rather
// than in package config so that the file format imports no server.
func forwardAuthConfig(f *config.File) (forwardauth.Config, error) {
	fa, err := f.ForwardAuthSection()
	if err != nil {
		return forwardauth.Config{}, err
	}
	cfg := forwardauth.Config{
		Unmatched:         forwardauth.Unmatched(fa.Unmatched),
		PassCORSPreflight: fa.CORSPreflight == "pass",
		IdentityHeaders:   forwardauth.IdentityHeaders(fa.IdentityHeaders),
		TrustedProxies:    proxyPrefixes(fa.TrustedProxies),
	}
	if c := f.Credentials; c != nil {
		cfg.ClientIDHeader, cfg.ClientSecretHeader = c.ClientIDHeader, c.ClientSecretHeader
		cfg.AddressProxies = proxyPrefixes(c.TrustedProxies)
	}
	for _, r := range fa.Routes {
		cfg.Routes = append(cfg.Routes, forwardauth.Route{Pattern: r.Match, Public: r.Public, Require: r.Scopes.Requirement()})
	}
	if err := cfg.Validate(); err != nil {
		return forwardauth.Config{}, f.ForwardAuthError(err)
	}
	return cfg, nil
}

// proxyPrefixes returns the ranges of a list of addresses and ranges that
// config has checked; nil for none.
func proxyPrefixes(entries []string) []netip.Prefix {
	ps, _ := clientaddr.Parse(entries)
	return ps
}
