package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The nginx part of README.md's "Keyward for every stack" runs as pasted:
// its nginx block is testdata/forwardauth/nginx.conf byte for byte (marked
// <!-- file: testdata/forwardauth/nginx.conf -->), which the nginx tests
// of this package run with other ports and .ci/readme runs as it is, from
// the shell block marked <!-- ci: run … --> that starts nginx with that
// file.

const (
	readmePath  = "../../README.md"
	nginxConfIn = "testdata/forwardauth/nginx.conf"
)

// readmeSection is the text of README.md from the heading that starts
// with heading up to the next heading of its level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n"+heading)
	if start < 0 {
		t.Fatalf("README.md has no heading %q", heading)
	}
	section := text[start+1:]
	level := heading[:strings.IndexByte(heading, ' ')+1] // "## "
	if end := strings.Index(section[len(heading):], "\n"+level); end >= 0 {
		section = section[:len(heading)+end+1]
	}
	return section
}

// fencedAfter returns the fenced blocks of text that directly follow a
// line starting with marker (blank lines between allowed), with the
// marker line; lang is the fence's language.
func fencedAfter(t *testing.T, text, marker, lang string) (blocks, markers []string) {
	t.Helper()
	lines := strings.SplitAfter(text, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], marker) {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j == len(lines) || strings.TrimSpace(lines[j]) != "```"+lang {
			t.Fatalf("README.md: %q is not followed by a ```%s block", strings.TrimSpace(lines[i]), lang)
		}
		var b strings.Builder
		for j++; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			b.WriteString(lines[j])
		}
		if j == len(lines) {
			t.Fatalf("README.md: the block after %q is not closed", strings.TrimSpace(lines[i]))
		}
		blocks, markers = append(blocks, b.String()), append(markers, lines[i])
		i = j
	}
	return blocks, markers
}

// TestReadmeNginx: the nginx configuration README.md shows is the one the
// tests run, nginx accepts it as it is, and the shell block CI runs starts
// nginx with it.
func TestReadmeNginx(t *testing.T) {
	t.Parallel()
	section := readmeSection(t, "## Keyward for every stack")
	confs, _ := fencedAfter(t, section, "<!-- file: "+nginxConfIn+" -->", "nginx")
	if len(confs) != 1 {
		t.Fatalf("the section has %d nginx blocks marked <!-- file: %s -->; want 1", len(confs), nginxConfIn)
	}
	file, err := os.ReadFile("../../" + nginxConfIn)
	if err != nil {
		t.Fatal(err)
	}
	if confs[0] != string(file) {
		t.Errorf("README.md's nginx block differs from %s: copy the file into README.md", nginxConfIn)
	}

	scripts, markers := fencedAfter(t, section, "<!-- ci: run", "sh")
	start := regexp.MustCompile(`(?m)\bnginx -p (\S+) -e stderr -c "\$PWD/` + regexp.QuoteMeta(nginxConfIn) + `" -g 'pid (/tmp/kw-[a-z-]+\.pid);'`)
	var started []string
	for i, s := range scripts {
		m := start.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		started = append(started, s)
		if !strings.Contains(s, "kill $(cat "+m[2]) {
			t.Errorf("the block that starts nginx does not stop it (kill $(cat %s …)):\n%s", m[2], s)
		}
		if !strings.Contains(markers[i], "expect: ") {
			t.Errorf("the block that starts nginx expects nothing: %s", markers[i])
		}
	}
	if len(started) != 1 {
		t.Fatalf("%d shell blocks marked <!-- ci: run … --> start nginx with %s; want 1", len(started), nginxConfIn)
	}

	// nginx itself accepts the configuration as shown.
	bin := nginxBinary(t)
	prefix := t.TempDir()
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(confs[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-p", prefix, "-e", "stderr", "-c", confPath, "-g", "pid "+filepath.Join(prefix, "nginx.pid")+";").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("test is successful")) {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}

// TestReadmeServersStop: the shell blocks of "Keyward for every stack"
// start servers as built binaries (stopping `go run … &` stops go, not the
// server it built) and wait for them with a bound, showing the logs when
// they do not come up.
func TestReadmeServersStop(t *testing.T) {
	t.Parallel()
	inSh := false
	for _, line := range strings.Split(readmeSection(t, "## Keyward for every stack"), "\n") {
		switch trimmed := strings.TrimSpace(line); {
		case trimmed == "```sh":
			inSh = true
			continue
		case trimmed == "```":
			inSh = false
			continue
		}
		if !inSh {
			continue
		}
		code, _, _ := strings.Cut(line, " # ")
		code = strings.TrimSpace(code)
		if strings.Contains(code, "go run ") && (strings.HasSuffix(code, "&") || strings.Contains(code, "& echo $!")) {
			t.Errorf("README.md starts a server with go run in the background; build it first (go build -o): %s", line)
		}
		if strings.Contains(code, "until ") && (!strings.Contains(code, "timeout ") || !strings.Contains(code, "|| cat ")) {
			t.Errorf("README.md waits without a bound, or without showing the log when the wait fails (timeout N sh -c 'until …' || cat LOG): %s", line)
		}
	}
}
