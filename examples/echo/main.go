// Command echo is the bookings API on Echo v4, protected by Keyward; the
// routes are in ../internal/bookings/echo.go.
//
//	go run ./examples/echo -config testdata/config/quickstart-dual.yaml -addr 127.0.0.1:8080
package main

import (
	"github.com/keyward/keyward/examples/internal/bookings"
	"github.com/keyward/keyward/examples/internal/server"
)

func main() { server.Main("echo", bookings.Echo) }
