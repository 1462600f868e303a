package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/examples/internal/bookings"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/middleware"
)

// servers are the authorization server and the bookings API, each on a
// loopback port of its own.
type servers struct {
	authURL, apiURL string
	close           func()
}

// start brings both servers up. The API finds the authorization server's
// keys by discovery, as a production resource server would, and checks
// client credentials against the same registry.
func start(ctx context.Context, clientsFile string) (*servers, error) {
	quiet := slog.New(slog.DiscardHandler)
	registry, err := clients.Open(clientsFile, clients.Options{Logger: quiet})
	if err != nil {
		return nil, err
	}

	authLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	authURL := "http://" + authLn.Addr().String()
	as, err := authserver.New(authserver.Config{Issuer: authURL, Audience: "bookings-api", Clients: registry})
	if err != nil {
		authLn.Close()
		return nil, err
	}
	authSrv := &http.Server{Handler: as.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go serve(authSrv, authLn)

	ctx, cancel := context.WithCancel(ctx)
	keys, err := jwks.NewDiscovered(ctx, authURL, jwks.Options{})
	if err != nil {
		cancel()
		authSrv.Close()
		return nil, err
	}
	authn, err := newAuthenticator(authURL, keys, registry)
	if err != nil {
		cancel()
		authSrv.Close()
		return nil, err
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = authn.Close()
		cancel()
		authSrv.Close()
		return nil, err
	}
	apiSrv := &http.Server{Handler: bookings.NetHTTP(middleware.New(authn, middleware.Options{})), ReadHeaderTimeout: 5 * time.Second}
	go serve(apiSrv, apiLn)

	return &servers{
		authURL: authURL,
		apiURL:  "http://" + apiLn.Addr().String(),
		close: func() {
			shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = apiSrv.Shutdown(shutdown)
			_ = authSrv.Shutdown(shutdown)
			_ = authn.Close() // the key set's refreshes and the registry's watcher
			cancel()
		},
	}, nil
}

// newAuthenticator accepts the demo issuer's tokens and the registry's
// clients.
func newAuthenticator(issuer string, keys jwks.Set, registry *clients.Registry) (*dualauth.Authenticator, error) {
	tokens, err := jwtauth.New(jwtauth.Config{
		Issuers:     []jwtauth.Issuer{{Issuer: issuer, Audiences: []string{"bookings-api"}, Keys: keys}},
		RequireType: "at+jwt",
	})
	if err != nil {
		return nil, err
	}
	checker, err := clientauth.New(clientauth.Config{Verifier: registry})
	if err != nil {
		_ = tokens.Close()
		return nil, err
	}
	return dualauth.New(dualauth.Config{Mode: dualauth.ModeDual, Realm: "bookings-api", Tokens: tokens, Clients: checker})
}

func serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Println("demo: server stopped:", err)
	}
}
