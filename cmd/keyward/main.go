// Command keyward is Keyward's command-line helper.
//
// Usage:
//
//	keyward hash-secret [-alg bcrypt|argon2id] [-cost 12] [-memory KiB] [-time N] [-threads N] < secret.txt
//	keyward serve -config FILE [-addr 127.0.0.1:9091] [-metrics-addr HOST:PORT] [-debug]
//	keyward help | -h | --help
//
// hash-secret reads a client secret from standard input (the first line,
// without its line ending) and prints its hash, for the secret_hash of a
// client registry file (package clients), on standard output and nothing
// else. The secret is never taken from the command line, where other users
// and shell history could see it. When standard input is a terminal it
// prompts on standard error and reads the secret without echoing it.
//
// serve is the forward-authentication service (package forwardauth) for
// reverse proxies in front of APIs in any language: nginx auth_request,
// Traefik forwardAuth, Caddy forward_auth and Envoy's HTTP ext_authz ask
// it about each request at /auth (or /ext_authz/...), and it answers with
// Keyward's authentication and the scopes of the forward_auth routes of
// the configuration file (package config), which is otherwise the
// middleware's. It also serves the status routes of package forwardauth
// (GET /healthz among them). With -metrics-addr it serves GET /metrics, in
// the Prometheus text format, on that second address only; without it no
// metrics are served. It stops both listeners cleanly on SIGINT or SIGTERM
// and reloads the clients file on SIGHUP.
//
// help, -h or --help, alone or after a command, prints the usage on
// standard output.
//
// Exit status: 0 on success (serve: after a clean shutdown; help), 1 if the
// secret cannot be read or hashed (serve: a configuration or listening
// error), 2 for a usage error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/keyward/keyward/clients"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: keyward <command> [flags]

commands:
  hash-secret   read a client secret from stdin and print its hash for a
                clients registry file (secret_hash)
  serve         the forward-authentication service for reverse proxies
                (nginx auth_request, Traefik, Caddy, Envoy ext_authz)
  help          print this help (also -h or --help, alone or after a command)

hash-secret flags:
  -alg bcrypt|argon2id   hash algorithm (default bcrypt)
  -cost N                bcrypt cost, 10 to 16 (default 12)
  -memory KiB            argon2id memory, 19456 to 262144 (default 65536)
  -time N                argon2id passes, 1 to 10 (default 3)
  -threads N             argon2id parallelism, 1 to 16 (default 2)

serve flags:
  -config FILE           the configuration file, with a forward_auth section
  -addr HOST:PORT        listen address (default 127.0.0.1:9091)
  -metrics-addr HOST:PORT
                         serve GET /metrics (Prometheus text format) on this
                         second address; without it no metrics are served
  -debug                 log the internal cause of each refusal too, and
                         debug detail (never tokens or secrets)

examples:
  go run ./cmd/keyward hash-secret -alg argon2id < secret.txt
  go run ./cmd/keyward serve -config testdata/forwardauth/keyward.yaml
`

// run is the whole command; main only binds it to the process. It returns
// the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "hash-secret":
		return hashSecret(args[1:], stdin, stdout, stderr)
	case "serve":
		// Asked for, the help goes to standard output; serveCmd only
		// has the log's stream.
		if _, err := serveFlags(args[1:]); errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serveCmd(ctx, args[1:], stderr, nil)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		// The argument is not echoed: it might be a secret typed by mistake.
		fmt.Fprint(stderr, "keyward: unknown command\n\n"+usage)
		return 2
	}
}

func hashSecret(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p, err := hashFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyward hash-secret: %v\n", err)
		return 2
	}
	var secret string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		secret, err = promptSecret(f, stderr)
	} else {
		secret, err = readSecret(stdin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyward hash-secret: %v\n", err)
		return 1
	}
	hash, err := clients.HashSecret(secret, p)
	if err != nil {
		fmt.Fprintf(stderr, "keyward hash-secret: %v\n", strings.TrimPrefix(err.Error(), "clients: "))
		return 1
	}
	fmt.Fprintln(stdout, hash)
	return 0
}

// hashFlags parses hash-secret's flags into hash parameters; the limits are
// HashSecret's to check. The error is flag.ErrHelp for -h.
func hashFlags(args []string) (clients.HashParams, error) {
	fs := flag.NewFlagSet("hash-secret", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed by hashSecret, with the usage
	alg := fs.String("alg", clients.AlgBcrypt, "")
	cost := fs.Int("cost", clients.DefaultBcryptCost, "")
	memory := fs.Uint("memory", 64<<10, "")
	passes := fs.Uint("time", 3, "")
	threads := fs.Uint("threads", 2, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return clients.HashParams{}, err
		}
		// flag's messages quote the flag, never stdin.
		return clients.HashParams{}, fmt.Errorf("%v\n\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return clients.HashParams{}, errors.New("the secret is read from standard input, never from arguments")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	switch *alg {
	case clients.AlgBcrypt:
		if set["memory"] || set["time"] || set["threads"] {
			return clients.HashParams{}, errors.New("-memory, -time and -threads are for -alg argon2id")
		}
		return clients.HashParams{Algorithm: clients.AlgBcrypt, BcryptCost: *cost}, nil
	case clients.AlgArgon2id:
		if set["cost"] {
			return clients.HashParams{}, errors.New("-cost is for -alg bcrypt")
		}
		if *memory == 0 || *passes == 0 || *threads == 0 {
			return clients.HashParams{}, errors.New("-memory, -time and -threads must be positive")
		}
		if *memory > 1<<32-1 || *passes > 1<<32-1 || *threads > 255 {
			return clients.HashParams{}, errors.New("-memory, -time or -threads out of range")
		}
		return clients.HashParams{Algorithm: clients.AlgArgon2id, Argon2: clients.Argon2Params{
			Memory: uint32(*memory), Time: uint32(*passes), Threads: uint8(*threads)}}, nil
	}
	return clients.HashParams{}, fmt.Errorf("-alg must be bcrypt or argon2id, not %q", *alg)
}

// readSecret reads the first line of r without its "\n" or "\r\n". It
// refuses an empty line and a line longer than clients.MaxSecretBytes.
func readSecret(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, clients.MaxSecretBytes+3))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the secret: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	switch {
	case line == "":
		return "", errors.New("the secret is empty (write it on the first line of standard input)")
	case len(line) > clients.MaxSecretBytes:
		return "", fmt.Errorf("the secret is longer than %d bytes", clients.MaxSecretBytes)
	}
	return line, nil
}

// promptSecret asks for the secret on the terminal f, without echo.
func promptSecret(f *os.File, stderr io.Writer) (string, error) {
	fmt.Fprint(stderr, "Client secret (not shown): ")
	raw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the secret: %w", err)
	}
	return readSecret(strings.NewReader(string(raw)))
}
