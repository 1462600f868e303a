package clients_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
)

// TestVerify covers the outcomes for both algorithms on the testdata
// registry (acme: bcrypt, globex: argon2id, initech: bcrypt, disabled), and
// that every failure, and no success, waits out the failure floor: the
// clock stands still, so each failure must wait the whole floor.
func TestVerify(t *testing.T) {
	t.Parallel()
	r, err := clients.Open(testdataFile, clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	floor := clients.FailureFloor(r)
	if floor <= 0 {
		t.Fatalf("failure floor %v; want the time of a check", floor)
	}
	frozen := time.Now()
	var waits []time.Duration
	clients.SetClock(r, func() time.Time { return frozen }, func(_ context.Context, d time.Duration) { waits = append(waits, d) })
	tests := []struct {
		name, id, secret string
		want             error // nil, or the cause wrapped with ErrInvalidClient
		scopes           []string
		hashes, dummies  uint64 // checks against an entry and against the dummy
	}{
		{"bcrypt ok", "acme", "acme-secret", nil, []string{"bookings:read", "reports:read"}, 1, 0},
		{"bcrypt wrong secret", "acme", "acme-secreT", clients.ErrWrongSecret, nil, 1, 0},
		{"argon2id ok", "globex", "globex-secret", nil, []string{"bookings:read", "bookings:create"}, 1, 0},
		{"argon2id wrong secret", "globex", "acme-secret", clients.ErrWrongSecret, nil, 1, 0},
		{"argon2id secret with a trailing newline", "globex", "globex-secret\n", clients.ErrWrongSecret, nil, 1, 0},
		{"disabled, right secret", "initech", "initech-secret", clients.ErrDisabled, nil, 1, 0},
		{"disabled, wrong secret", "initech", "nope", clients.ErrWrongSecret, nil, 1, 0},
		{"unknown id", "umbrella", "acme-secret", clients.ErrUnknownClient, nil, 0, 1},
		{"id differs in case", "ACME", "acme-secret", clients.ErrUnknownClient, nil, 0, 1},
		{"empty id", "", "acme-secret", clients.ErrUnknownClient, nil, 0, 0},
		{"id over 256 bytes", strings.Repeat("a", 257), "acme-secret", clients.ErrUnknownClient, nil, 0, 0},
		{"empty secret", "acme", "", clients.ErrWrongSecret, nil, 0, 0},
		{"secret over 1 KiB", "globex", strings.Repeat("s", 1025), clients.ErrWrongSecret, nil, 0, 0},
	}
	var errType reflect.Type
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h0, d0 := clients.HashChecks(r), clients.DummyChecks(r)
			waits = nil
			c, err := r.Verify(context.Background(), tt.id, tt.secret)
			if h, d := clients.HashChecks(r)-h0, clients.DummyChecks(r)-d0; h != tt.hashes || d != tt.dummies {
				t.Errorf("hashed %d times against entries and %d against the dummy; want %d and %d", h, d, tt.hashes, tt.dummies)
			}
			wantWaits := []time.Duration{floor}
			if tt.want == nil {
				wantWaits = nil
			}
			if !slices.Equal(waits, wantWaits) {
				t.Errorf("waited %v; want %v", waits, wantWaits)
			}
			if tt.want == nil {
				if err != nil || c.ID != tt.id || !slices.Equal(c.Scopes, tt.scopes) || c.Disabled {
					t.Errorf("Verify = %+v, %v; want %s %v", c, err, tt.id, tt.scopes)
				}
				return
			}
			if !errors.Is(err, clients.ErrInvalidClient) || !errors.Is(err, tt.want) {
				t.Fatalf("Verify error %v; want ErrInvalidClient and %v", err, tt.want)
			}
			for _, other := range []error{clients.ErrUnknownClient, clients.ErrWrongSecret, clients.ErrDisabled} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("error %v also wraps %v", err, other)
				}
			}
			if !reflect.DeepEqual(c, clients.Client{}) {
				t.Errorf("failed Verify returned %+v", c)
			}
			if errType == nil {
				errType = reflect.TypeOf(err)
			} else if reflect.TypeOf(err) != errType {
				t.Errorf("error type %T; other failures give %v", err, errType)
			}
			if tt.id != "" && strings.Contains(err.Error(), tt.id) || tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q quotes the id or the secret", err)
			}
		})
	}
}

// TestVerifySpecialCharacters: ids and secrets are compared byte for byte,
// whatever their characters, with both algorithms.
func TestVerifySpecialCharacters(t *testing.T) {
	t.Parallel()
	specs := []spec{
		{id: "partner:7", secret: "pa:ss:wo:rd"},
		{id: "100%", secret: "%41%00 100%"},
		{id: "société-東京", secret: "mot de passe: café ☕ — ünïcödé"},
		{id: `quote"back\slash`, secret: `"'\` + "`$(rm -rf /)`"},
		{id: "bcrypt:ü%", secret: "sécret:%20", p: bcrypt10},
	}
	r := mustParse(t, registryYAML(t, specs...))
	noWaiting(r)
	ctx := context.Background()
	for _, s := range specs {
		t.Run(s.id, func(t *testing.T) {
			if c, err := r.Verify(ctx, s.id, s.secret); err != nil || c.ID != s.id {
				t.Errorf("Verify(%q, %q) = %+v, %v", s.id, s.secret, c, err)
			}
		})
	}
	near := []struct{ id, secret string }{
		{"partner%3A7", "pa:ss:wo:rd"}, // the id URL-encoded: another id
		{"100%", "%41%00%20100%"},      // the secret URL-decoded differently
		{"100%", "A\x00 100%"},         // the secret decoded
		{"société-東京", "mot de passe: cafe\u0301 ☕ — ünïcödé"}, // é in NFD, not NFC
		{"societe\u0301-東京", "mot de passe: café ☕ — ünïcödé"}, // the id in NFD
	}
	for _, n := range near {
		if _, err := r.Verify(ctx, n.id, n.secret); !errors.Is(err, clients.ErrInvalidClient) {
			t.Errorf("Verify(%q, %q) = %v; want ErrInvalidClient", n.id, n.secret, err)
		}
	}
}

// TestVerifyBcrypt72 checks that a bcrypt entry never accepts a secret
// longer than the 72 bytes bcrypt reads, even if its first 72 bytes match,
// while argon2id entries take secrets up to MaxSecretBytes.
func TestVerifyBcrypt72(t *testing.T) {
	t.Parallel()
	s72 := strings.Repeat("0123456789abcdef", 4) + "01234567" // 72 bytes
	long := strings.Repeat("x", 300)
	r := mustParse(t, registryYAML(t,
		spec{id: "b", secret: s72, p: bcrypt10},
		spec{id: "a", secret: long},
	))
	noWaiting(r)
	ctx := context.Background()
	if _, err := r.Verify(ctx, "b", s72); err != nil {
		t.Errorf("72-byte secret: %v", err)
	}
	h0 := clients.HashChecks(r)
	_, err := r.Verify(ctx, "b", s72+"!")
	if !errors.Is(err, clients.ErrInvalidClient) || !errors.Is(err, clients.ErrWrongSecret) || !strings.Contains(err.Error(), "72 bytes") {
		t.Errorf("73-byte secret with the right first 72 bytes: %v; want ErrWrongSecret (72 bytes)", err)
	}
	if clients.HashChecks(r) != h0+1 {
		t.Error("the 73-byte secret was refused without hashing; it must cost what a wrong secret costs")
	}
	if _, err := r.Verify(ctx, "a", long); err != nil {
		t.Errorf("argon2id, 300-byte secret: %v", err)
	}
	if _, err := r.Verify(ctx, "a", long[:299]); !errors.Is(err, clients.ErrWrongSecret) {
		t.Errorf("argon2id, 299 of 300 bytes: %v", err)
	}

	if _, err := clients.HashSecret(s72+"!", bcrypt10); err == nil || !strings.Contains(err.Error(), "72 bytes") {
		t.Errorf("HashSecret(73 bytes, bcrypt) = %v; want a refusal", err)
	}
	if ok, err := clients.CheckSecret(hashOf(t, s72, bcrypt10), s72+"!"); ok || err != nil {
		t.Errorf("CheckSecret(73 bytes, bcrypt) = %v, %v; want false, nil", ok, err)
	}
}

// TestVerifyDummy checks structurally that unknown ids cost what the most
// expensive entry costs: the dummy hash has its algorithm and parameters,
// and is a well-formed hash that CheckSecret fully evaluates.
func TestVerifyDummy(t *testing.T) {
	t.Parallel()
	// Parse checks hashes' form, not what they hash, so costs can be edited
	// in; only the dummies' checks below hash anything.
	b10 := "$2a$10$QvE1QXndPgu8cpb8KJf4OOr7p41sEOrKFK1lbra2PL7wb7gFSZrA6"
	b11 := "$2a$11$" + b10[7:]
	a := hashOf(t, "s", argonMin)
	salt, key := strings.Split(a, "$")[4], strings.Split(a, "$")[5]
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	tests := []struct {
		name   string
		hashes []string
		want   string
		check  bool // check a secret against the dummy (slow for bcrypt under -race)
	}{
		{"bcrypt 10 over argon2id minimum", []string{a, b10}, "bcrypt cost 10", true},
		{"bcrypt 11 over 10", []string{b10, b11}, "bcrypt cost 11", false},
		{"argon2id 64 MiB t=3 over bcrypt 10", []string{b10, argon("m=65536,t=3,p=2")}, "argon2id m=65536,t=3,p=2,key=32", false},
		{"more argon2id memory", []string{a, argon("m=38912,t=1,p=1")}, "argon2id m=38912,t=1,p=1,key=32", true},
		{"more argon2id passes", []string{argon("m=19456,t=2,p=1"), a}, "argon2id m=19456,t=2,p=1,key=32", true},
		{"same cost: fewer lanes (slower)", []string{argon("m=19456,t=1,p=2"), a}, "argon2id m=19456,t=1,p=1,key=32", true},
		{"same cost and lanes: chosen by parameters", []string{argon("m=19456,t=1,p=1"), "$argon2id$v=19$m=19456,t=1,p=1$" + salt + "$" + strings.Repeat("A", 22)}, "argon2id m=19456,t=1,p=1,key=32", true},
		{"one entry", []string{a}, "argon2id m=19456,t=1,p=1,key=32", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "clients:\n"
			for i, h := range tt.hashes {
				file += fmt.Sprintf("  - {client_id: c%d, secret_hash: %q}\n", i, h)
			}
			r := mustParse(t, []byte(file))
			if got := clients.DummyParams(r); got != tt.want {
				t.Errorf("dummy %s; want %s", got, tt.want)
			}
			dummy := clients.DummyHash(r)
			if slices.Contains(tt.hashes, dummy) {
				t.Fatal("the dummy is a real entry's hash")
			}
			// (false, nil): the hash parsed and the secret was hashed and
			// compared; a malformed dummy would give an error at no cost.
			if ok, err := clients.CheckSecret(dummy, "s"); tt.check && (ok || err != nil) {
				t.Errorf("CheckSecret(dummy) = %v, %v; want false, nil", ok, err)
			}
		})
	}
	// A new dummy at every load: its salt is not predictable.
	data := registryYAML(t, spec{id: "a", secret: "s"})
	first, second := mustParse(t, data), mustParse(t, data)
	if clients.DummyHash(first) == clients.DummyHash(second) {
		t.Error("two loads made the same dummy hash")
	}
}

// TestVerifyReturnsCopy: callers may modify what they get.
func TestVerifyReturnsCopy(t *testing.T) {
	t.Parallel()
	r := mustParse(t, registryYAML(t, spec{id: "a", secret: "s", scopes: []string{"x:r", "y:r"}}))
	c, err := r.Verify(context.Background(), "a", "s")
	if err != nil {
		t.Fatal(err)
	}
	c.Scopes[0] = "admin"
	l, _ := r.Lookup("a")
	l.Scopes[1] = "root"
	if again, _ := r.Lookup("a"); !slices.Equal(again.Scopes, []string{"x:r", "y:r"}) {
		t.Errorf("the registry's scopes changed to %v", again.Scopes)
	}
}

// TestVerifyContext: a done context, or one that ends while every hash slot
// is busy, gives the context's error, which is not ErrInvalidClient.
func TestVerifyContext(t *testing.T) {
	t.Parallel()
	r := mustParse(t, registryYAML(t, spec{id: "a", secret: "s"}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Verify(ctx, "a", "s"); !errors.Is(err, context.Canceled) || errors.Is(err, clients.ErrInvalidClient) {
		t.Errorf("cancelled: %v", err)
	}

	release := clients.FillHashSlots(r)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	h0, d0 := clients.HashChecks(r), clients.DummyChecks(r)
	if _, err := r.Verify(ctx, "a", "s"); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, clients.ErrInvalidClient) {
		t.Errorf("no free slot: %v", err)
	}
	if clients.HashChecks(r) != h0 || clients.DummyChecks(r) != d0 {
		t.Error("Verify hashed without a slot")
	}
	release()
	if _, err := r.Verify(context.Background(), "a", "s"); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// TestVerifyConcurrentSlots: MaxConcurrentHashes bounds the hashing, not the
// callers; every caller gets its answer (HashWait has no bound here).
func TestVerifyConcurrentSlots(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/clients.yaml"
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "s"}))
	r, err := clients.Open(path, clients.Options{MaxConcurrentHashes: 1, HashWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 6)
	for i := range 6 {
		go func() {
			secret := "s"
			if i%2 == 1 {
				secret = "wrong"
			}
			_, err := r.Verify(context.Background(), "a", secret)
			if (err == nil) != (secret == "s") {
				err = fmt.Errorf("secret %q: %v", secret, err)
			} else {
				err = nil
			}
			errs <- err
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestVerifyClient: a Registry is a clientauth.Verifier. A good pair
// is the client with its scopes; every refusal wraps
// dualauth.ErrInvalidClient; a check that found no hash slot wraps
// dualauth.ErrVerifierBusy (answered 503, not counted against the caller)
// and not ErrInvalidClient.
func TestVerifyClient(t *testing.T) {
	t.Parallel()
	var _ clientauth.Verifier = (*clients.Registry)(nil)
	r, _ := openFile(t, clients.Options{HashWait: 10 * time.Millisecond},
		spec{id: "acme", secret: "s3cret", scopes: []string{"bookings:read"}}, spec{id: "off", secret: "s", disabled: true})
	for _, tc := range []struct {
		id, secret string
		busy       bool
		want       error // nil: the client
	}{
		{id: "acme", secret: "s3cret"},
		{id: "acme", secret: "wrong", want: dualauth.ErrInvalidClient},
		{id: "nobody", secret: "s3cret", want: dualauth.ErrInvalidClient},
		{id: "off", secret: "s", want: dualauth.ErrInvalidClient},
		{id: "acme", secret: "s3cret", busy: true, want: dualauth.ErrVerifierBusy},
	} {
		release := func() {}
		if tc.busy {
			release = clients.FillHashSlots(r)
		}
		p, err := r.VerifyClient(context.Background(), tc.id, tc.secret)
		release()
		switch {
		case tc.want != nil && (p != nil || !errors.Is(err, tc.want)):
			t.Errorf("%s/%s busy=%v: %v, %v; want %v", tc.id, tc.secret, tc.busy, p, err, tc.want)
		case tc.busy && errors.Is(err, dualauth.ErrInvalidClient):
			t.Errorf("busy: %v wraps ErrInvalidClient", err)
		case tc.want == nil && (err != nil || p.Method != dualauth.MethodCredentials || p.Subject != tc.id || p.ClientID != tc.id || !p.Scopes.Has("bookings:read")):
			t.Errorf("%s: %+v, %v; want the client with its scopes", tc.id, p, err)
		}
	}
}
