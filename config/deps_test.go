package config_test

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigImportsNoServer: the file format builds things and imports no
// server (issue 15): neither forwardauth nor middleware is among the
// module's packages that config imports, directly or through another.
// Read with go/build from the sources, without the go command.
func TestConfigImportsNoServer(t *testing.T) {
	const module = "github.com/keyward/keyward"
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	via := map[string]string{module + "/config": ""} // package: the one importing it
	queue := []string{module + "/config"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		pkg, err := build.ImportDir(filepath.Join(root, strings.TrimPrefix(path, module)), 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
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
	for _, server := range []string{"forwardauth", "middleware", "middleware/echokw", "authserver"} {
		if by, ok := via[module+"/"+server]; ok {
			t.Errorf("config imports %s (through %s)", server, by)
		}
	}
}
