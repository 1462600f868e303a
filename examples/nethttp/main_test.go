package main

import (
	"testing"

	"github.com/keyward/keyward/examples/internal/routestest"
)

func TestRoutes(t *testing.T) { routestest.Run(t, routes) }
