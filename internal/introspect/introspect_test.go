package introspect

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/jwtverify"
	"github.com/keyward/keyward/internal/syncbuf"
)

const issuer = "https://auth.example.com"

func newTestClient(t testing.TB, endpoint string, maxInFlight int) *Client {
	t.Helper()
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	return New(Config{
		Issuer: issuer, Endpoint: endpoint, ClientID: "rs", ClientSecret: "secret",
		Answers:     jwtverify.NewAnswerChecker(jwtverify.AnswerRules{Issuer: issuer, Audiences: []string{"api"}, Now: now}),
		MaxInFlight: maxInFlight, Now: now,
	})
}

// TestInFlightWait: beyond MaxInFlight calls in progress, a token that
// needs another call waits for a slot and is then checked; if no slot
// frees within the timeout it is answered unavailable, without a call and
// without running admit, and the log says so once for many refusals.
func TestInFlightWait(t *testing.T) {
	entered, release := make(chan string, 2), make(chan struct{})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_ = r.ParseForm()
		entered <- r.PostForm.Get("token")
		<-release
		_, _ = w.Write([]byte(`{"active":false}`))
	}))
	t.Cleanup(srv.Close)

	t.Run("a slot frees", func(t *testing.T) {
		c := newTestClient(t, srv.URL, 1)
		waiting := make(chan struct{})
		c.onSlotWait = func() { close(waiting) }
		first := make(chan error, 1)
		go func() { _, err := c.Introspect(context.Background(), "token-1", nil); first <- err }()
		if got := <-entered; got != "token-1" {
			t.Fatalf("the endpoint got %q", got)
		}
		second := make(chan error, 1)
		go func() { _, err := c.Introspect(context.Background(), "token-2", nil); second <- err }()
		select {
		case <-waiting:
		case err := <-second:
			close(release)
			<-first
			t.Fatalf("token-2 answered before a slot freed: %v", err)
		}
		release <- struct{}{} // the first call ends and frees its slot
		if got := <-entered; got != "token-2" {
			t.Fatalf("the endpoint got %q", got)
		}
		release <- struct{}{}
		for i, ch := range []chan error{first, second} {
			var e *jwtverify.Error
			if err := <-ch; !asError(err, &e) || e.Unavailable {
				t.Fatalf("token %d: %v, want the endpoint's refusal", i+1, err)
			}
		}
		if n := c.Counts(); n.Inactive != 2 || n.Error != 0 {
			t.Fatalf("counts %+v, want two inactive", n)
		}
	})

	t.Run("no slot frees within the timeout", func(t *testing.T) {
		logs := &syncbuf.Buffer{}
		c := newTestClient(t, srv.URL, 1)
		c.cfg.Timeout = 20 * time.Millisecond
		c.logger = slog.New(slog.NewTextHandler(logs, nil))
		c.slots <- struct{}{} // a call in progress that does not end
		defer func() { <-c.slots }()
		before := calls.Load()
		for i := range 3 {
			admitted := false
			_, err := c.Introspect(context.Background(), fmt.Sprintf("waits-%d", i), func(context.Context) (func(bool), error) {
				admitted = true
				return func(bool) {}, nil
			})
			var e *jwtverify.Error
			if !asError(err, &e) || !e.Unavailable || admitted || calls.Load() != before {
				t.Fatalf("token %d: %v (admitted %v, %d calls), want unavailable without a call", i, err, admitted, calls.Load()-before)
			}
		}
		if n := c.Counts(); n.Error != 3 {
			t.Fatalf("counts %+v", n)
		}
		if lines := strings.Count(logs.String(), "too many calls in progress"); lines != 1 || strings.Contains(logs.String(), "waits-") {
			t.Fatalf("%d lines about it, want 1 without the token:\n%s", lines, logs)
		}
	})
}

func asError(err error, target **jwtverify.Error) bool {
	e, ok := err.(*jwtverify.Error)
	*target = e
	return ok
}

// FuzzRead: whatever an endpoint answers, read never panics, accepts only
// an answer whose active member is true, and an accepted answer's claims
// are the answer itself.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		`{"active":true,"scope":"a b","sub":"u","exp":1800000600,"iss":"https://auth.example.com","aud":["api"]}`,
		`{"active":false}`, `{"active":"true"}`, `{}`, `[]`, `null`, `{"active":true,"cnf":{}}`,
		`{"active":true,"active":false}`, `{"active":true,"exp":"soon"}`, `{"active":true,"scope":["a"]}`,
		`{"active":true}x`, "{\"active\":true,\"sub\":\"\\u0000\"}",
	} {
		f.Add(seed)
	}
	c := newTestClient(f, "https://auth.example.com/introspect", 1)
	f.Fuzz(func(t *testing.T, answer string) {
		e, err := c.read(answer)
		if err != nil {
			return
		}
		if e.refusal != nil {
			return
		}
		if !strings.Contains(answer, "true") || e.claims.JSON != answer {
			t.Fatalf("accepted %q as %+v", answer, e.claims)
		}
		if _, err := c.answer(e); err != nil && e.refusal == nil && e.notBefore.IsZero() && e.expiry.IsZero() {
			t.Fatalf("an accepted answer without dates refused: %v", err)
		}
	})
}

// TestReadDuplicateMembers: an answer naming a member twice refuses the
// token, whichever member and whatever the last value says; a clean
// answer is accepted.
func TestReadDuplicateMembers(t *testing.T) {
	const rest = `"iss":"https://auth.example.com","aud":"api","sub":"u","exp":1800000600`
	for _, tt := range []struct {
		name, answer string
		accepted     bool
	}{
		{"clean", `{"active":true,` + rest + `}`, true},
		{"active false then true", `{"active":false,"active":true,` + rest + `}`, false},
		{"active true then false", `{"active":true,"active":false,` + rest + `}`, false},
		{"exp twice", `{"active":true,` + rest + `,"exp":1900000000}`, false},
		{"scope twice", `{"active":true,"scope":"a","scope":"admin",` + rest + `}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, "https://auth.example.com/introspect", 1)
			e, err := c.read(tt.answer)
			if err != nil {
				t.Fatalf("read: %v, want an entry", err)
			}
			if accepted := e.refusal == nil; accepted != tt.accepted {
				t.Fatalf("accepted %v (%v), want %v", accepted, e.refusal, tt.accepted)
			}
			if !tt.accepted && !strings.Contains(e.refusal.Err.Error(), "more than once") {
				t.Fatalf("refusal %v, want it to name the duplicate", e.refusal.Err)
			}
		})
	}
}
