// Command demo shows Keyward end to end with one command: it starts the
// development authorization server and the bookings API (net/http, dual
// mode) on loopback ports, walks through every way of getting in — the
// token endpoint styles real providers use, a refresh, an opaque token the
// API introspects at the authorization server (RFC 7662), client-credential
// headers, HTTP Basic — and the ways of being refused, printing each request
// and response. Then it keeps serving and prints curl commands to try, until
// Ctrl-C.
//
//	go run ./examples/demo          # walk through, then serve
//	go run ./examples/demo -once    # walk through and exit: 0 only if every step answered as expected
//
// Run it from the repository's root: it reads the test-only clients of
// testdata/authserver/clients.yaml and, from
// testdata/authserver/client-options.yaml, which of them gets opaque access
// tokens (opaque-app) and which may introspect them (keyward-rs, the API's
// own client at the authorization server).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	once := flag.Bool("once", false, "run the walk-through and exit (status 0 only if every step passed)")
	var f files
	flag.StringVar(&f.clients, "clients", "testdata/authserver/clients.yaml", "client registry `file`")
	flag.StringVar(&f.clientOptions, "client-options", "testdata/authserver/client-options.yaml",
		"client options `file`: which clients get opaque tokens (token_format: opaque) and which may introspect")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Stdout, f, *once)
	stop()
	os.Exit(code)
}

// run starts both servers, walks through, and then serves until ctx is done
// unless once is set. It returns the process's exit status.
func run(ctx context.Context, out io.Writer, f files, once bool) int {
	s, err := start(ctx, f)
	if err != nil {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	defer s.close()

	failed := walk(ctx, out, s)
	if once {
		if failed > 0 {
			return 1
		}
		return 0
	}
	printCurls(out, s.authURL, s.apiURL)
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopped")
	return 0
}
