package introspect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/jwtverify"
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

// TestInFlightBound: beyond MaxInFlight calls in progress, a token that
// needs another call is answered unavailable at once, without a call and
// without running admit.
func TestInFlightBound(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-release
		_, _ = w.Write([]byte(`{"active":false}`))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := newTestClient(t, srv.URL, 1)
	first := make(chan error, 1)
	go func() { _, err := c.Introspect(context.Background(), "token-1", nil); first <- err }()
	<-entered
	admitted := false
	_, err := c.Introspect(context.Background(), "token-2", func(context.Context) (func(bool), error) {
		admitted = true
		return func(bool) {}, nil
	})
	var e *jwtverify.Error
	if !asError(err, &e) || !e.Unavailable || admitted || calls.Load() != 1 {
		t.Fatalf("beyond the bound: %v (admitted %v, %d calls), want unavailable without a call", err, admitted, calls.Load())
	}
	if n := c.Counts(); n.Error != 1 {
		t.Fatalf("counts %+v", n)
	}
	release <- struct{}{} // let the first call end before the cleanup closes release
	if err := <-first; err == nil || strings.Contains(err.Error(), "in progress") {
		t.Fatalf("the first token: %v, want its own refusal", err)
	}
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
