package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestWalkThrough runs the demo as `go run ./examples/demo -once` does and
// checks that every step answered as expected.
func TestWalkThrough(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), &out, "../../testdata/clients/clients.yaml", true); code != 0 {
		t.Fatalf("exit status %d; output:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "steps answered as expected") || strings.Contains(out.String(), "✗") {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestRunFailsWithoutRegistry(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), &out, "missing.yaml", true); code == 0 {
		t.Fatal("run succeeded without a client registry")
	}
}
