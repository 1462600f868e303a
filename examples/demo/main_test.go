package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// testFiles are the demo's default files, from this directory.
var testFiles = files{
	clients:       "../../testdata/authserver/clients.yaml",
	clientOptions: "../../testdata/authserver/client-options.yaml",
}

// TestWalkThrough runs the demo as `go run ./examples/demo -once` does and
// checks that every step answered as expected, the opaque token's among
// them: the API introspected it at the authorization server, once for two
// calls, and once more for a made-up token; and the DPoP-bound token's:
// issued as token_type DPoP, accepted with a proof, refused when a proof
// is replayed and when the token comes as Bearer.
func TestWalkThrough(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), &out, testFiles, true); code != 0 {
		t.Fatalf("exit status %d; output:\n%s", code, out.String())
	}
	for _, want := range []string{
		"steps answered as expected",
		"── Opaque token: the API asks the authorization server (RFC 7662 introspection)",
		`"access_token":"kwat_`,
		`"introspected":true`,
		"introspection requests so far: the second call was answered from Keyward's cache\n  = 1\n  ✓",
		"introspection requests so far: one more, for the made-up token\n  = 2\n  ✓",
		"── DPoP: a token bound to the client's key (RFC 9449)",
		`"token_type":"DPoP"`,
		"    Authorization: DPoP ey",
		`"cnf":{"jkt":"`,
		"    DPoP: ey",
		"  whoami again with the first proof: a replay (its jti was seen)\n",
		`    WWW-Authenticate: DPoP realm="bookings-api", algs="`,
		`error="invalid_dpop_proof"`,
		"  the bound token as Bearer: a stolen token is of no use without the key\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no %q in the output:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "✗") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// TestRunFailsWithoutFiles checks that the demo stops, with a non-zero
// status, when a file it reads is missing.
func TestRunFailsWithoutFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    files
	}{
		{"no registry", files{clients: "missing.yaml", clientOptions: testFiles.clientOptions}},
		{"no client options", files{clients: testFiles.clients, clientOptions: "missing.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(context.Background(), &out, tc.f, true); code == 0 {
				t.Fatalf("run succeeded; output:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "missing.yaml") {
				t.Errorf("the error does not name the missing file: %s", out.String())
			}
		})
	}
}
