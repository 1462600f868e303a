package clients_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/clients"
)

// TestVerifyBusy: when no hash slot frees within HashWait, Verify returns
// ErrBusy, which is not a failed authentication, without hashing.
func TestVerifyBusy(t *testing.T) {
	t.Parallel()
	r, _ := openFile(t, clients.Options{MaxConcurrentHashes: 2, HashWait: 10 * time.Millisecond}, spec{id: "a", secret: "s"})
	release := clients.FillHashSlots(r)
	h0, d0 := clients.HashChecks(r), clients.DummyChecks(r)
	for _, id := range []string{"a", "nobody"} {
		_, err := r.Verify(context.Background(), id, "s")
		if !errors.Is(err, clients.ErrBusy) || errors.Is(err, clients.ErrInvalidClient) {
			t.Errorf("%s, every slot taken: %v; want ErrBusy alone", id, err)
		}
	}
	if clients.HashChecks(r) != h0 || clients.DummyChecks(r) != d0 {
		t.Error("Verify hashed without a slot")
	}
	release()
	if _, err := r.Verify(context.Background(), "a", "s"); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// TestHashSlotsDefault: by default the number of hash slots follows the
// largest argon2id memory of the file, at every reload; a set
// MaxConcurrentHashes stays. (Not parallel: it sets GOMAXPROCS.)
func TestHashSlotsDefault(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(64))
	a := hashOf(t, "s", argonMin)
	salt, key := strings.Split(a, "$")[4], strings.Split(a, "$")[5]
	file := func(memory int) []byte {
		return fmt.Appendf(nil, "clients:\n  - {client_id: a, secret_hash: %q}\n  - {client_id: b, secret_hash: %q}\n",
			a, fmt.Sprintf("$argon2id$v=19$m=%d,t=1,p=1$%s$%s", memory, salt, key))
	}
	path := t.TempDir() + "/clients.yaml"
	writeFile(t, path, file(64<<10))
	r, err := clients.Open(path, clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, n := clients.HashSlots(r); n != 16 {
		t.Errorf("argon2id at 64 MiB: %d hash slots; want 16 (1 GiB at once)", n)
	}
	writeFile(t, path, file(clients.MinArgon2Memory))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, n := clients.HashSlots(r); n != 53 {
		t.Errorf("argon2id at 19 MiB after a reload: %d hash slots; want 53", n)
	}

	fixed, err := clients.Open(path, clients.Options{MaxConcurrentHashes: 3})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, file(64<<10))
	if err := fixed.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, n := clients.HashSlots(fixed); n != 3 {
		t.Errorf("MaxConcurrentHashes 3: %d hash slots", n)
	}
}
