// Command nethttp is the bookings API on the standard library's ServeMux,
// protected by Keyward; the routes are in ../internal/bookings/nethttp.go.
//
//	go run ./examples/nethttp -config testdata/config/quickstart-dual.yaml -addr 127.0.0.1:8080
package main

import (
	"github.com/keyward/keyward/examples/internal/bookings"
	"github.com/keyward/keyward/examples/internal/server"
)

func main() { server.Main("nethttp", bookings.NetHTTP) }
