package middleware_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHTTPProgramLinksNoGRPC: a net/http program (middleware, dualauth,
// jwks, jwtauth) links no package of gRPC, nor the protobuf runtime or
// Google's API types that come with it: only package grpcauth imports
// google.golang.org/grpc; nor x/oauth2 and the Google Cloud metadata
// client that gRPC's credentials/oauth brings (examples/grpc's client). The
// same listing of grpcauth shows the check can see gRPC where it is linked.
func TestHTTPProgramLinksNoGRPC(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go command is needed: %v", err)
		}
		t.Skipf("no go command on PATH: %v", err)
	}
	grpcPackages := func(pkgs ...string) []string {
		t.Helper()
		out, err := exec.Command(goCmd, append([]string{"list", "-deps"}, pkgs...)...).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkgs, err)
		}
		var found []string
		for _, path := range strings.Fields(string(out)) {
			for _, prefix := range []string{"google.golang.org/grpc", "google.golang.org/protobuf/", "google.golang.org/genproto/", "golang.org/x/oauth2", "cloud.google.com/"} {
				if strings.HasPrefix(path, prefix) {
					found = append(found, path)
				}
			}
		}
		return found
	}
	if found := grpcPackages("github.com/keyward/keyward/grpcauth"); len(found) == 0 {
		t.Fatal("go list -deps of grpcauth names no gRPC package: the check below would see nothing")
	}
	if found := grpcPackages("github.com/keyward/keyward/middleware", "github.com/keyward/keyward/dualauth",
		"github.com/keyward/keyward/jwks", "github.com/keyward/keyward/jwtauth"); len(found) > 0 {
		t.Errorf("middleware + dualauth + jwks + jwtauth link %d gRPC packages, which only grpcauth may: %s", len(found), strings.Join(found, " "))
	}
}
