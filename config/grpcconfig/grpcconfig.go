// Package grpcconfig makes the grpcauth.Options that the grpc section of a
// configuration file (package config) describes. It is a package of its
// own so that the file format links no gRPC and the interceptors link no
// YAML: only a program that reads its gRPC rules from the file links it.
//
//	f, err := config.Read("keyward.yaml")
//	if err != nil {
//		log.Fatal(err)
//	}
//	cfg, err := f.Config(ctx, config.Options{Logger: logger})
//	if err != nil {
//		log.Fatal(err)
//	}
//	opts, err := grpcconfig.Options(f)
//	if err != nil {
//		cfg.Close()
//		log.Fatal(err)
//	}
//	a, err := dualauth.New(cfg)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer a.Close()
//	opts.Logger = logger
//	kw := grpcauth.New(a, opts)
package grpcconfig

import (
	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/grpcauth"
)

// Options returns the grpcauth.Options that f's grpc section describes,
// checked by grpcauth.Options.Validate, with every problem reported at the
// line and key of the file (config.File.GRPCError). It fails when f has
// no grpc section. Logger is left for the caller to set.
func Options(f *config.File) (grpcauth.Options, error) {
	g, err := f.GRPCSection()
	if err != nil {
		return grpcauth.Options{}, err
	}
	opts := grpcauth.Options{Unmatched: grpcauth.Unmatched(g.Unmatched)}
	for _, m := range g.Methods {
		opts.Methods = append(opts.Methods, grpcauth.Rule{Match: m.Match, Public: m.Public, Scopes: m.Scopes.Requirement()})
	}
	if err := opts.Validate(); err != nil {
		return grpcauth.Options{}, f.GRPCError(err)
	}
	return opts, nil
}
