package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/keyward/keyward/clients"
)

// runMainEnv, set in a test binary's environment, makes it the keyward
// command: tests run it as a process of its own to send it signals.
const runMainEnv = "KEYWARD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // exits
	}
	os.Exit(m.Run())
}

func TestHashSecretCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stdin  string
		secret string // what must match the printed hash
		prefix string
	}{
		{"bcrypt, newline", []string{"-cost", "10"}, "acme-secret\n", "acme-secret", "$2a$10$"},
		{"argon2id, CRLF", []string{"-alg=argon2id", "-memory=19456", "-time=1", "-threads=1"}, "acme-secret\r\n", "acme-secret", "$argon2id$"},
		{"argon2id, no newline", []string{"-alg", "argon2id", "-memory", "19456", "-time", "1", "-threads", "1"},
			"globex-secret", "globex-secret", "$argon2id$v=19$m=19456,t=1,p=1$"},
		{"argon2id, first line only, spaces kept", []string{"-alg", "argon2id", "-memory", "19456", "-time", "1", "-threads", "1"},
			"  spaced: % ü \nsecond line\n", "  spaced: % ü ", "$argon2id$v=19$m=19456,t=1,p=1$"},
		{"argon2id defaults", []string{"-alg", "argon2id"}, "x\n", "x", "$argon2id$v=19$m=65536,t=3,p=2$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"hash-secret"}, tt.args...), strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != 0 || stderr.Len() != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			hash, ok := strings.CutSuffix(stdout.String(), "\n")
			if !ok || strings.Contains(hash, "\n") || !strings.HasPrefix(hash, tt.prefix) {
				t.Fatalf("stdout %q; want one line starting %s", stdout.String(), tt.prefix)
			}
			if ok, err := clients.CheckSecret(hash, tt.secret); !ok || err != nil {
				t.Errorf("CheckSecret(%q, %q) = %v, %v", hash, tt.secret, ok, err)
			}
		})
	}
}

// TestHashFlags checks the parameters the flags give, without hashing.
func TestHashFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want clients.HashParams
	}{
		{nil, clients.HashParams{Algorithm: "bcrypt", BcryptCost: 12}},
		{[]string{"-cost", "14"}, clients.HashParams{Algorithm: "bcrypt", BcryptCost: 14}},
		{[]string{"-alg", "argon2id"}, clients.HashParams{Algorithm: "argon2id",
			Argon2: clients.Argon2Params{Memory: 65536, Time: 3, Threads: 2}}},
		{[]string{"-alg=argon2id", "-memory=19456", "-time=1", "-threads=1"}, clients.HashParams{Algorithm: "argon2id",
			Argon2: clients.Argon2Params{Memory: 19456, Time: 1, Threads: 1}}},
	}
	for _, tt := range tests {
		if got, err := hashFlags(tt.args); err != nil || got != tt.want {
			t.Errorf("hashFlags(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr string
	}{
		{"no command", nil, "", 2, "usage: keyward"},
		{"unknown command, not echoed", []string{"hunter2"}, "", 2, "keyward: unknown command\n"},
		{"unknown top-level flag", []string{"--version"}, "", 2, "keyward: unknown command\n"},
		{"serve, unknown flag", []string{"serve", "-hlep"}, "", 2, "flag provided but not defined: -hlep"},
		{"secret as an argument, not echoed", []string{"hash-secret", "hunter2"}, "", 2, "never from arguments"},
		{"unknown flag", []string{"hash-secret", "-salt", "x"}, "", 2, "flag provided but not defined: -salt"},
		{"unknown algorithm", []string{"hash-secret", "-alg", "md5"}, "s\n", 2, `-alg must be bcrypt or argon2id, not "md5"`},
		{"-cost with argon2id", []string{"hash-secret", "-alg", "argon2id", "-cost", "12"}, "s\n", 2, "-cost is for -alg bcrypt"},
		{"-memory with bcrypt", []string{"hash-secret", "-memory", "65536"}, "s\n", 2, "are for -alg argon2id"},
		{"-threads 0", []string{"hash-secret", "-alg", "argon2id", "-threads", "0"}, "s\n", 2, "must be positive"},
		{"-threads 300", []string{"hash-secret", "-alg", "argon2id", "-threads", "300"}, "s\n", 2, "out of range"},
		{"cost too low", []string{"hash-secret", "-cost", "9"}, "s\n", 1, "bcrypt cost 9 is outside 10 to 16"},
		{"argon2id memory too low", []string{"hash-secret", "-alg", "argon2id", "-memory", "1024"}, "s\n", 1, "below the minimum 19456 KiB"},
		{"empty stdin", []string{"hash-secret"}, "", 1, "the secret is empty"},
		{"empty first line", []string{"hash-secret"}, "\nsecond\n", 1, "the secret is empty"},
		{"CRLF only", []string{"hash-secret"}, "\r\n", 1, "the secret is empty"},
		{"over 1 KiB", []string{"hash-secret", "-alg", "argon2id"}, strings.Repeat("x", 1025) + "\n", 1, "longer than 1024 bytes"},
		{"over 1 KiB, no newline", []string{"hash-secret", "-alg", "argon2id"}, strings.Repeat("x", 5000), 1, "longer than 1024 bytes"},
		{"bcrypt, 73 bytes", []string{"hash-secret", "-cost", "10"}, strings.Repeat("x", 73) + "\n", 1, "longer than 72 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q; want nothing", stdout.String())
			}
			if strings.Contains(stderr.String(), "hunter2") {
				t.Error("stderr echoes an argument that may be a secret")
			}
		})
	}
}

// TestHelp: help asked for, with help, -h or --help alone or after a
// command, prints the usage on standard output and exits 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{"help"},
		{"-h"},
		{"-help"},
		{"--help"},
		{"hash-secret", "-h"},
		{"hash-secret", "--help"},
		{"hash-secret", "-alg", "argon2id", "-h"},
		{"serve", "-h"},
		{"serve", "--help"},
		{"serve", "-config", "keyward.yaml", "-h"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(args, strings.NewReader("never read\n"), &stdout, &stderr)
			if code != 0 || !strings.HasPrefix(stdout.String(), "usage: keyward") || stderr.Len() != 0 {
				t.Errorf("exit %d, stdout %.40q, stderr %q; want 0, the usage on stdout and nothing on stderr", code, stdout.String(), stderr.String())
			}
		})
	}
}

// TestNoPromptOnDevNull: a character device that is not a terminal (as
// </dev/null) gets no prompt, and reads as an empty secret.
func TestNoPromptOnDevNull(t *testing.T) {
	t.Parallel()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"hash-secret"}, f, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d; want 1 (empty secret)", code)
	}
	if strings.Contains(stderr.String(), "Client secret") || stdout.Len() != 0 {
		t.Errorf("stderr %q, stdout %q; want no prompt and no output", stderr.String(), stdout.String())
	}
}

// TestNoPromptOnPipe: piped input gets no prompt.
func TestNoPromptOnPipe(t *testing.T) {
	t.Parallel()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		pw.WriteString("s\n")
		pw.Close()
	}()
	defer pr.Close()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"hash-secret", "-alg", "argon2id", "-memory", "19456", "-time", "1", "-threads", "1"}, pr, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
