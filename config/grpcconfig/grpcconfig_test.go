package grpcconfig_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/config/grpcconfig"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/scopes"
)

// head is a valid file before its grpc section; its last line is 8.
const head = `mode: dual
jwt:
  issuers:
    - issuer: https://auth.example.com
      jwks_url: https://auth.example.com/jwks.json
      audiences: [api]
credentials:
  clients_file: clients.yaml
`

// TestExampleFile: the grpc section of examples/grpc/keyward.yaml, the
// issue's, reads into the rules it shows, in order, with scopes as
// forward_auth routes spell them.
func TestExampleFile(t *testing.T) {
	f, err := config.Read("../../examples/grpc/keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := grpcconfig.Options(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []grpcauth.Rule{
		{Match: "/bookings.v1.Bookings/List", Scopes: scopes.All("bookings:read")},
		{Match: "/bookings.v1.Bookings/Create", Scopes: scopes.All("bookings:create")},
		{Match: "/bookings.v1.Bookings/WhoAmI"},
		{Match: "/grpc.health.v1.Health/", Public: true},
	}
	if opts.Unmatched != grpcauth.UnmatchedDeny || len(opts.Methods) != len(want) {
		t.Fatalf("options %+v", opts)
	}
	for i, r := range opts.Methods {
		if !sameRule(r, want[i]) {
			t.Errorf("Methods[%d] = %+v; want %+v", i, r, want[i])
		}
	}
}

func sameRule(a, b grpcauth.Rule) bool {
	return a.Match == b.Match && a.Public == b.Public && a.Scopes.String() == b.Scopes.String() &&
		a.Scopes.OneOf() == b.Scopes.OneOf() && a.Scopes.IsZero() == b.Scopes.IsZero()
}

// TestSection: what each spelling of the section makes: any scopes,
// unmatched authenticate, and the default policy.
func TestSection(t *testing.T) {
	for _, tt := range []struct {
		name, section string
		unmatched     grpcauth.Unmatched
		rules         []grpcauth.Rule
	}{
		{"any", "grpc:\n  methods:\n    - match: /a.B/\n      scopes: {any: [x, y]}\n", "", []grpcauth.Rule{{Match: "/a.B/", Scopes: scopes.Any("x", "y")}}},
		{"all of two", "grpc:\n  methods:\n    - match: /a.B/C\n      scopes:\n        all: [x, y]\n", "", []grpcauth.Rule{{Match: "/a.B/C", Scopes: scopes.All("x", "y")}}},
		{"authenticate, no rules", "grpc:\n  unmatched: authenticate\n", grpcauth.UnmatchedAuthenticate, nil},
		{"deny", "grpc:\n  unmatched: deny\n  methods: [{match: /a.B/, public: true}]\n", grpcauth.UnmatchedDeny, []grpcauth.Rule{{Match: "/a.B/", Public: true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := config.Parse([]byte(head + tt.section))
			if err != nil {
				t.Fatal(err)
			}
			opts, err := grpcconfig.Options(f)
			if err != nil {
				t.Fatal(err)
			}
			if opts.Unmatched != tt.unmatched || len(opts.Methods) != len(tt.rules) {
				t.Fatalf("options %+v; want unmatched %q and %d rules", opts, tt.unmatched, len(tt.rules))
			}
			for i, r := range opts.Methods {
				if !sameRule(r, tt.rules[i]) {
					t.Errorf("Methods[%d] = %+v; want %+v", i, r, tt.rules[i])
				}
			}
		})
	}
}

// TestErrors: every problem of the section is reported with the line and
// key to fix: those of its own keys by Parse, those of the rules
// (grpcauth.Options.Validate) by Options, with the rules its reasons name
// as the lines they are on.
func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		section string // after head, whose last line is 8
		parse   string // an error of Parse, if it is the one to fail
		want    string // an error of Parse, else of Options
	}{
		{"no section", "", "", "config: grpc: is required by the gRPC interceptors"},
		{"unknown key", "grpc:\n  methods:\n    - match: /a.B/\n      scope: {all: [x]}\n",
			`line 12: unknown key "scope" in grpc.methods[0]; did you mean "scopes"?`, ""},
		{"unknown section key", "grpc:\n  method: []\n", `line 10: unknown key "method" in grpc; did you mean "methods"?`, ""},
		{"scopes not a mapping", "grpc:\n  methods:\n    - match: /a.B/\n      scopes: [x]\n", "line 12: grpc.methods[0].scopes: must be a mapping", ""},
		{"quoted boolean", "grpc:\n  methods:\n    - match: /a.B/\n      public: \"true\"\n", `line 12: grpc.methods[0].public: "true" is not true or false`, ""},
		{"no match", "grpc:\n  methods:\n    - public: true\n", `line 11: grpc.methods[0].match: is required: a full method such as "/bookings.v1.Bookings/List"`, ""},
		{"all and any", "grpc:\n  methods:\n    - match: /a.B/\n      scopes: {all: [x], any: [y]}\n", "line 12: grpc.methods[0].scopes: sets all and any", ""},
		{"empty scopes", "grpc:\n  methods:\n    - match: /a.B/\n      scopes: {}\n", "line 12: grpc.methods[0].scopes: lists no scopes", ""},
		{"bad scope", "grpc:\n  methods:\n    - match: /a.B/\n      scopes:\n        all: [ok, \"a b\"]\n", `line 13: grpc.methods[0].scopes.all[1]: "a b" is not a scope`, ""},
		{"public with scopes", "grpc:\n  methods:\n    - match: /a.B/\n      public: true\n      scopes: {all: [x]}\n", "line 12: grpc.methods[0].public: a public method rule lets everyone through", ""},
		{"bad unmatched", "grpc:\n  unmatched: allow\n", `line 10: grpc.unmatched: "allow" is neither deny nor authenticate`, ""},
		{"not a method", "grpc:\n  methods:\n    - match: /a.B/\n    - match: bookings.List\n",
			"", `config: line 12: grpc.methods[1].match: "bookings.List" is neither a full method (/pkg.Service/Method) nor a service prefix (/pkg.Service/)`},
		{"bad method name", "grpc:\n  methods:\n    - match: /a.B/*\n", "", `line 11: grpc.methods[0].match: "/a.B/*" has a method name that is not an identifier`},
		{"hidden rule", "grpc:\n  methods:\n    - match: /x.Y/Z\n    - match: /a.B/\n      public: true\n    - match: /a.B/C\n      scopes: {all: [x]}\n",
			"", `config: line 14: grpc.methods[2].match: "/a.B/C" is never reached: the method rule at line 12 ("/a.B/") matches it first`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := config.Parse([]byte(head + tt.section))
			if tt.parse != "" {
				if err == nil || !strings.Contains(err.Error(), tt.parse) {
					t.Fatalf("Parse = %v; want an error with %q", err, tt.parse)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = grpcconfig.Options(f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Options = %v; want an error with %q", err, tt.want)
			}
			var ce *dualauth.ConfigError
			if tt.name != "no section" && (!errors.As(err, &ce) || ce.Package != "grpcauth") {
				t.Errorf("Options = %#v; want it to wrap grpcauth's ConfigError", err)
			}
		})
	}
}

// TestErrorsNameTheFile: read from a file, the errors name it.
func TestErrorsNameTheFile(t *testing.T) {
	path := t.TempDir() + "/keyward.yaml"
	if err := os.WriteFile(path, []byte(head+"grpc:\n  methods:\n    - match: /a.B/C\n    - match: /a.B/C\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = grpcconfig.Options(f)
	want := "config: " + path + `: line 12: grpc.methods[1].match: "/a.B/C" is never reached: the method rule at line 11 ("/a.B/C") matches it first`
	if err == nil || err.Error() != want {
		t.Fatalf("Options = %v;\nwant %s", err, want)
	}
}

// TestOtherErrors: an error that is not grpcauth's is the file's, without
// a line or key; one about a field the file has no key for is at the
// section.
func TestOtherErrors(t *testing.T) {
	f, err := config.Parse([]byte(head + "grpc:\n  unmatched: deny\n"))
	if err != nil {
		t.Fatal(err)
	}
	plain := errors.New("boom")
	if got := f.GRPCError(plain); got.Error() != "config: boom" || !errors.Is(got, plain) {
		t.Errorf("GRPCError(plain) = %v", got)
	}
	odd := &dualauth.ConfigError{Package: "grpcauth", Field: "Methods[7].Other", Reason: "odd"}
	if got := f.GRPCError(odd).Error(); got != "config: line 9: grpc.methods[7]: odd" {
		t.Errorf("GRPCError(odd) = %s", got)
	}
	fa := &dualauth.ConfigError{Package: "forwardauth", Field: "Routes[0].Pattern", Reason: "bad"}
	if got := f.GRPCError(fa).Error(); strings.Contains(got, "grpc.") {
		t.Errorf("GRPCError(forwardauth's) = %s; want it left the file's", got)
	}
}
