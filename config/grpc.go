package config

import (
	"regexp"

	"github.com/keyward/keyward/internal/excerpt"
)

// GRPC is the grpc section: which gRPC methods the interceptors of
// package grpcauth let through, and to whom. The net/http middleware and
// keyward serve ignore it.
//
//	grpc:
//	  methods:                     # first match wins; a full method "/pkg.Service/Method" or a service prefix "/pkg.Service/"
//	    - match: /bookings.v1.Bookings/List
//	      scopes: {all: [bookings:read]}
//	    - match: /bookings.v1.Bookings/Create
//	      scopes: {all: [bookings:create]}
//	    - match: /bookings.v1.Bookings/WhoAmI     # any authenticated caller
//	    - match: /grpc.health.v1.Health/
//	      public: true
//	  unmatched: deny              # deny (PermissionDenied, the default) | authenticate
//
// The credentials are read from the call's metadata as the
// credentials section names them (client_id_header and
// client_secret_header, lower-cased), and credentials.trusted_proxies
// applies to the x-forwarded-for metadata as to the header.
type GRPC struct {
	// Methods are matched in order against the call's full method; the
	// first that matches decides.
	Methods []GRPCMethod `yaml:"methods,omitempty"`
	// Unmatched is what happens to a call no rule matches: "deny" (the
	// default: PermissionDenied) or "authenticate" (any authenticated
	// caller).
	Unmatched string `yaml:"unmatched,omitempty"`
}

// GRPCMethod is one entry of grpc.methods.
type GRPCMethod struct {
	// Match is a full method, "/pkg.Service/Method", or a service prefix,
	// "/pkg.Service/" (grpcauth.Rule.Match).
	Match string `yaml:"match"`
	// Scopes is what the caller's scopes must meet; omitted, any
	// authenticated caller passes.
	Scopes *RouteScopes `yaml:"scopes,omitempty"`
	// Public lets the matching calls through without authentication.
	Public bool `yaml:"public,omitempty"`
}

// GRPCSection returns the grpc section, which Parse and Read have checked
// for the rules of its own keys. It fails when the file has none. Package
// config/grpcconfig makes grpcauth.Options of it and reports what
// grpcauth.Options.Validate refuses through GRPCError. (The file format
// does not import gRPC: a program linking config links no gRPC.)
func (f *File) GRPCSection() (*GRPC, error) {
	if f.GRPC == nil {
		return nil, f.errorAt(0, "grpc", "is required by the gRPC interceptors: add a grpc section with the methods to allow")
	}
	return f.GRPC, nil
}

// checkGRPC checks the rules of the section's own keys; the rules of the
// grpcauth.Options made of it (method names, rules hidden by earlier ones)
// are grpcauth's, checked by config/grpcconfig.
func (f *File) checkGRPC() error {
	g := f.GRPC
	switch g.Unmatched {
	case "", "deny", "authenticate":
	default:
		return f.errorf("grpc.unmatched", "%s is neither deny nor authenticate", excerpt.Quote(g.Unmatched))
	}
	for i, m := range g.Methods {
		if err := f.checkRule(&grpcSection, i, m.Match, m.Scopes, m.Public, `a full method such as "/bookings.v1.Bookings/List" or a service prefix such as "/grpc.health.v1.Health/"`); err != nil {
			return err
		}
	}
	return nil
}

// grpcSection is how errors of grpcauth.Options.Validate map to the grpc
// section.
var grpcSection = ruleSection{
	pkg: "grpcauth", key: "grpc", list: "Methods", entry: "method rule",
	fields: map[string]string{
		"Methods":        "grpc.methods",
		"Methods.Match":  "grpc.methods.match",
		"Methods.Scopes": "grpc.methods.scopes",
		"Methods.Public": "grpc.methods.public",
		"Unmatched":      "grpc.unmatched",
	},
	ref: regexp.MustCompile(`\bMethods\[(\d+)\]`),
}

// GRPCError reports an error of grpcauth.Options.Validate, for the Options
// made of the grpc section (see GRPCSection), at the key and line of the
// file it comes from; the rules its reason names become the lines they
// are on. Another error is reported as the file's.
func (f *File) GRPCError(err error) error {
	return f.ruleSectionError(err, &grpcSection)
}
