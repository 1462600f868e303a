package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
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
	// introspections counts the requests to the authorization server's
	// introspection endpoint, which only the API makes.
	introspections *atomic.Int64
	close          func()
}

// files are the test-only files the servers read.
type files struct {
	// clients is the client registry of both servers.
	clients string
	// clientOptions says which clients get opaque access tokens and which
	// may introspect (see authserver.ReadClientOptions).
	clientOptions string
}

// start brings both servers up. The API finds the authorization server's
// keys and introspection endpoint by discovery, as a production resource
// server would, introspects opaque tokens there as its own client, and
// checks client credentials against the same registry.
func start(ctx context.Context, f files) (*servers, error) {
	quiet := slog.New(slog.DiscardHandler)
	options, err := authserver.ReadClientOptions(f.clientOptions)
	if err != nil {
		return nil, err
	}
	registry, err := clients.Open(f.clients, clients.Options{Logger: quiet})
	if err != nil {
		return nil, err
	}

	authLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	authURL := "http://" + authLn.Addr().String()
	as, err := authserver.New(authserver.Config{Issuer: authURL, Audience: "bookings-api", Clients: registry, ClientOptions: options})
	if err != nil {
		authLn.Close()
		return nil, err
	}
	introspections := new(atomic.Int64)
	authSrv := &http.Server{Handler: counting(as.Handler(), introspections), ReadHeaderTimeout: 5 * time.Second}
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
		authURL:        authURL,
		apiURL:         "http://" + apiLn.Addr().String(),
		introspections: introspections,
		close: func() {
			shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = apiSrv.Shutdown(shutdown)
			_ = authSrv.Shutdown(shutdown)
			_ = authn.Close() // the key set's refreshes, the introspection client, the registry's watcher
			cancel()
		},
	}, nil
}

// newAuthenticator accepts the demo issuer's tokens, JWTs verified here
// and opaque ones introspected at the issuer, Bearer or bound to a DPoP
// key, and the registry's clients.
func newAuthenticator(issuer string, keys jwks.Set, registry *clients.Registry) (*dualauth.Authenticator, error) {
	// Guessed opaque tokens count against the caller's address, as wrong
	// client secrets do.
	guard, err := clientauth.NewGuard(clientauth.Throttle{}, nil, nil)
	if err != nil {
		return nil, err
	}
	tokens, err := jwtauth.New(jwtauth.Config{
		Issuers: []jwtauth.Issuer{{
			Issuer: issuer, Audiences: []string{"bookings-api"}, Keys: keys,
			// The endpoint is the issuer metadata's introspection_endpoint.
			// The development server checks keyward-rs's bcrypt secret on
			// every introspection call: allow for a slow machine (or -race).
			Introspection: &jwtauth.Introspection{ClientID: resourceServerID, ClientSecret: resourceServerSecret, Timeout: 10 * time.Second},
		}},
		RequireType: "at+jwt",
		Throttle:    guard,
		// DPoP-bound tokens (RFC 9449) beside Bearer ones, with proofs
		// signed by the two algorithms DPoP clients use most (the default
		// is every asymmetric one); replays are refused from this
		// process's memory.
		DPoP: &jwtauth.DPoP{Algorithms: []string{"ES256", "EdDSA"}},
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

// counting counts the requests to the introspection endpoint in n.
func counting(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == authserver.PathIntrospect {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

func serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Println("demo: server stopped:", err)
	}
}
