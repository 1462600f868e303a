package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/keyward/keyward/exchange"
)

func ExampleClient_Exchange() {
	// A token endpoint like seed 001's: Basic credentials, form body.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth() // these credentials need no unescaping
		if r.PostFormValue("grant_type") != "client_credentials" || id != "bookings-partner" || secret != "s3cret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"eyJhbGciOiJSUzI1NiJ9.e30.sig"}`)
	}))
	defer srv.Close()

	c := &exchange.Client{TokenURL: srv.URL + "/oauth/v2/token", Style: exchange.StyleBasic}
	if err := c.Validate(); err != nil { // at startup
		fmt.Println(err)
		return
	}

	tok, err := c.Exchange(context.Background(), "bookings-partner", "s3cret")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.TokenType, tok.ExpiresIn, tok.AccessToken)

	_, err = c.Exchange(context.Background(), "bookings-partner", "wrong")
	var e *exchange.Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, exchange.ErrRejected), e.Status, e.Code)
	}
	// Output:
	// Bearer 1h0m0s eyJhbGciOiJSUzI1NiJ9.e30.sig
	// true 401 invalid_client
}

func ExampleWithCallerAddr() {
	// An authorization server that throttles failed authentications per
	// caller: it trusts this resource server's X-Forwarded-For, and has
	// held this caller back for a while.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("X-Forwarded-For:", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "42")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":"too_many_requests"}`)
	}))
	defer srv.Close()
	c := &exchange.Client{TokenURL: srv.URL + "/oauth/v2/token"}

	// In the resource server, per request: r.RemoteAddr, or the address
	// its own trusted proxy forwarded.
	ctx := exchange.WithCallerAddr(context.Background(), "192.0.2.7:51234")
	_, err := c.Exchange(ctx, "bookings-partner", "s3cret")
	var re *exchange.RetryError
	if errors.As(err, &re) {
		// Answer the caller with the same status and Retry-After.
		fmt.Println(re.Status, re.RetryAfter, errors.Is(err, exchange.ErrUnavailable))
	}
	// Output:
	// X-Forwarded-For: 192.0.2.7
	// 429 42s true
}
