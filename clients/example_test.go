package clients_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/clients"
)

func ExampleOpen() {
	reg, err := clients.Open("../testdata/clients/clients.yaml", clients.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	c, err := reg.Verify(ctx, "acme", "acme-secret")
	fmt.Println(c.ID, c.Scopes, err)

	// Every failure is ErrInvalidClient to the caller; the cause is for logs.
	for _, try := range [][2]string{{"acme", "guess"}, {"nobody", "guess"}, {"initech", "initech-secret"}} {
		_, err := reg.Verify(ctx, try[0], try[1])
		fmt.Println(errors.Is(err, clients.ErrInvalidClient), err)
	}
	// Output:
	// acme [bookings:read reports:read] <nil>
	// true clients: invalid client: wrong client_secret
	// true clients: invalid client: unknown client_id
	// true clients: invalid client: client disabled
}

func ExampleHashSecret() {
	hash, err := clients.HashSecret("correct horse battery staple", clients.HashParams{Algorithm: clients.AlgArgon2id})
	if err != nil {
		log.Fatal(err)
	}
	// The salt is random: only the parameters are predictable.
	fmt.Println(strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=3,p=2$"))

	ok, err := clients.CheckSecret(hash, "correct horse battery staple")
	fmt.Println(ok, err)
	ok, err = clients.CheckSecret(hash, "Tr0ub4dor&3")
	fmt.Println(ok, err)
	// Output:
	// true
	// true <nil>
	// false <nil>
}

// A server keeps the registry in step with its file until it shuts down.
func ExampleRegistry_Watch() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	reg, err := clients.Open("/etc/keyward/clients.yaml", clients.Options{
		ReloadInterval: 10 * time.Second,
		Logger:         logger,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go reg.Watch(ctx, syscall.SIGHUP) // polls every 10s, and reloads on kill -HUP

	// Cache verifications per reg.Generation(): a new generation means a
	// secret, a scope or a client changed.
}
