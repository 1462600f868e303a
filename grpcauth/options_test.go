package grpcauth_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/internal/syncbuf"
	"github.com/keyward/keyward/scopes"
)

// TestValidate: Options.Validate refuses, with a *dualauth.ConfigError
// naming the field, Matches that are neither a full method nor a service
// prefix, a public rule with scopes, a rule hidden by an earlier one and
// an unknown policy; New panics with the same error, and on a nil
// Authenticator.
func TestValidate(t *testing.T) {
	_, a := newAuthenticator(t, nil)
	rule := func(match string) grpcauth.Rule { return grpcauth.Rule{Match: match} }
	for _, tc := range []struct {
		name  string
		opts  grpcauth.Options
		field string // "" = valid
	}{
		{name: "zero", opts: grpcauth.Options{}},
		{name: "the issue's rules", opts: grpcauth.Options{Unmatched: grpcauth.UnmatchedDeny, Methods: []grpcauth.Rule{
			{Match: "/bookings.v1.Bookings/List", Scopes: scopes.All("bookings:read")},
			{Match: "/bookings.v1.Bookings/Create", Scopes: scopes.All("bookings:create")},
			{Match: "/bookings.v1.Bookings/WhoAmI"},
			{Match: "/grpc.health.v1.Health/", Public: true},
		}}},
		{name: "method before its service", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.B/C"), rule("/a.B/")}}},
		{name: "unpackaged service", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/Svc/_m9")}}},
		{name: "a service and one with a longer name", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.B/"), rule("/a.BC/")}}},
		{name: "unknown policy", opts: grpcauth.Options{Unmatched: "allow"}, field: "Unmatched"},
		{name: "empty", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("")}}, field: "Methods[0].Match"},
		{name: "no leading slash", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("a.B/C")}}, field: "Methods[0].Match"},
		{name: "service without slash", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.B")}}, field: "Methods[0].Match"},
		{name: "slash only", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/")}}, field: "Methods[0].Match"},
		{name: "no service", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("//C")}}, field: "Methods[0].Match"},
		{name: "three parts", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.B/C/")}}, field: "Methods[0].Match"},
		{name: "glob", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.B/*")}}, field: "Methods[0].Match"},
		{name: "empty package part", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a..B/")}}, field: "Methods[0].Match"},
		{name: "digit first", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.B/9C")}}, field: "Methods[0].Match"},
		{name: "space", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.B/C ")}}, field: "Methods[0].Match"},
		{name: "non-ASCII", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.Bé/C")}}, field: "Methods[0].Match"},
		{name: "public with scopes", opts: grpcauth.Options{Methods: []grpcauth.Rule{{Match: "/a.B/", Public: true, Scopes: scopes.All("x")}}}, field: "Methods[0].Scopes"},
		{name: "same match twice", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/a.B/C"), {Match: "/a.B/C", Public: true}}}, field: "Methods[1].Match"},
		{name: "method after its service", opts: grpcauth.Options{Methods: []grpcauth.Rule{rule("/x.Y/Z"), rule("/a.B/"), rule("/a.B/C")}}, field: "Methods[2].Match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			var ce *dualauth.ConfigError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.field == "":
				return
			case !errors.As(err, &ce) || ce.Package != "grpcauth" || ce.Field != tc.field || ce.Reason == "":
				t.Fatalf("Validate: %#v, want a grpcauth ConfigError at %s", err, tc.field)
			}
			defer func() {
				if p, ok := recover().(error); !ok || p.Error() != err.Error() {
					t.Errorf("New panicked with %v, want %v", p, err)
				}
			}()
			grpcauth.New(a, tc.opts)
			t.Error("New did not panic")
		})
	}
	t.Run("nil authenticator", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("New(nil) did not panic")
			}
		}()
		grpcauth.New(nil, grpcauth.Options{})
	})
}

// TestRefusalLog: refusals are logged as the HTTP middleware logs them —
// status, code, description, POST, the full method as the path, the peer
// address, the cause at debug — and never the credentials; a call refused
// unmatched is logged as access_denied.
func TestRefusalLog(t *testing.T) {
	iss, a := newAuthenticator(t, nil)
	var buf syncbuf.Buffer
	kw := grpcauth.New(a, grpcauth.Options{Methods: testOptions().Methods,
		Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	conn := start(t, kw, "tcp")
	expired := iss.ExpiredToken(t, jwt.MapClaims{"sub": "a-subject-to-keep-quiet"})
	for _, tc := range []struct {
		method string
		md     []string // authorization
		code   codes.Code
		status float64
		logged string
		cause  bool
	}{
		{"/" + bookings + "/WhoAmI", []string{"Bearer " + expired}, codes.Unauthenticated, 401, "invalid_token", true},
		{"/" + bookings + "/WhoAmI", []string{"Basic Z2xvYmV4Om5vdC10aGUtc2VjcmV0"}, codes.Unauthenticated, 401, "invalid_client", true},
		{"/" + bookings + "/WhoAmI", nil, codes.Unauthenticated, 401, "unauthorized", false},
		{"/" + admin + "/Purge", []string{"Bearer " + expired}, codes.PermissionDenied, 403, "access_denied", false},
	} {
		before := len(buf.String())
		var md []string
		for _, v := range tc.md {
			md = append(md, "authorization", v)
		}
		if res := call(t, conn, tc.method, false, metadata.Pairs(md...)); res.code != tc.code {
			t.Fatalf("%s: %s, want %s", tc.method, res.code, tc.code)
		}
		line := strings.TrimSpace(buf.String()[before:])
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: log %q: %v", tc.method, line, err)
		}
		if rec["msg"] != "keyward: request refused" || rec["status"] != tc.status || rec["code"] != tc.logged ||
			rec["method"] != "POST" || rec["path"] != tc.method || !strings.HasPrefix(rec["remote_addr"].(string), "127.0.0.1:") ||
			rec["description"] == "" || (rec["cause"] != nil) != tc.cause {
			t.Errorf("%s: logged %v", tc.method, rec)
		}
		for _, secret := range []string{expired, "a-subject-to-keep-quiet", "Z2xvYmV4", "not-the-secret"} {
			if strings.Contains(line, secret) {
				t.Errorf("%s: the log has %.20q: %s", tc.method, secret, line)
			}
		}
	}
}
