package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/config"
)

// FuzzParse checks that no file makes Parse panic, and that it returns a
// File or an error, never both.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../testdata/config/*.yaml", "../testdata/config/bad/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, path := range files {
			if data, err := os.ReadFile(path); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := config.Parse(data)
		if (file == nil) == (err == nil) {
			t.Fatalf("Parse returned %v and %v", file, err)
		}
	})
}
