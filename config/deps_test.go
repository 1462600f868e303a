package config_test

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigImportsNoServer: the file format builds things and imports no
// server (issue 15): neither forwardauth, middleware nor grpcauth is among
// the module's packages that config imports, directly or through another,
// and none of them imports gRPC (issue 18). Read with go/build from the
// sources, without the go command; TestConfigLinksNoGRPC follows every
// import with it.
func TestConfigImportsNoServer(t *testing.T) {
	const module = "github.com/keyward/keyward"
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	via := map[string]string{module + "/config": ""} // package: the one importing it
	var grpcImports []string                         // "package imports path" for gRPC paths
	queue := []string{module + "/config"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		pkg, err := build.ImportDir(filepath.Join(root, strings.TrimPrefix(path, module)), 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, "google.golang.org/grpc") {
				grpcImports = append(grpcImports, path+" imports "+imp)
			}
			if _, seen := via[imp]; seen || !strings.HasPrefix(imp, module+"/") {
				continue
			}
			via[imp] = path
			queue = append(queue, imp)
		}
	}
	if len(via) < 5 {
		t.Fatalf("read only %d packages of the module: %v", len(via), via)
	}
	for _, server := range []string{"forwardauth", "middleware", "middleware/echokw", "authserver", "grpcauth", "config/grpcconfig"} {
		if by, ok := via[module+"/"+server]; ok {
			t.Errorf("config imports %s (through %s)", server, by)
		}
	}
	if len(grpcImports) > 0 {
		t.Errorf("config links gRPC: %s", strings.Join(grpcImports, "; "))
	}
}

// TestConfigLinksNoGRPC: a program that reads the file (config) links no
// package of gRPC, nor the protobuf runtime, and one that uses the gRPC
// interceptors without the file (grpcauth) links no YAML; only
// config/grpcconfig, which makes one of the other, links both (which
// shows the check sees them where they are).
func TestConfigLinksNoGRPC(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go command is needed: %v", err)
		}
		t.Skipf("no go command on PATH: %v", err)
	}
	linked := func(pkg string, prefixes ...string) []string {
		t.Helper()
		out, err := exec.Command(goCmd, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		var found []string
		for _, path := range strings.Fields(string(out)) {
			for _, prefix := range prefixes {
				if strings.HasPrefix(path, prefix) {
					found = append(found, path)
				}
			}
		}
		return found
	}
	const module = "github.com/keyward/keyward"
	grpc := []string{"google.golang.org/grpc", "google.golang.org/protobuf/", "google.golang.org/genproto/"}
	yaml := []string{"go.yaml.in/yaml/", "gopkg.in/yaml.", module + "/config"}
	if len(linked(module+"/config/grpcconfig", grpc...)) == 0 || len(linked(module+"/config/grpcconfig", yaml...)) == 0 {
		t.Fatal("go list -deps of config/grpcconfig names no gRPC or no YAML package: the checks below would see nothing")
	}
	if found := linked(module+"/config", grpc...); len(found) > 0 {
		t.Errorf("config links %d gRPC packages: %s", len(found), strings.Join(found, " "))
	}
	if found := linked(module+"/grpcauth", yaml...); len(found) > 0 {
		t.Errorf("grpcauth links the file format: %s", strings.Join(found, " "))
	}
}
