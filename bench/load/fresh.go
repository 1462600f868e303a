package main

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/keyward/keyward/bench/internal/suite"
)

// freshTokens mints the tokens of each measured run with -tokens fresh,
// after that run's warm-up and before it starts, so that minting is never
// timed and no server of this program's run, in any round, is sent a token
// that was sent before: each pool is new tokens (each with its own random
// jti) and goes to one run only. A server that has seen a token before
// answers it from its cache, and a run that resends one measures the cache,
// not the verification.
type freshTokens struct {
	mint    func() (string, error)
	fixed   int           // -pool: tokens per run, or 0 to size from -d
	d       time.Duration // -d
	max     int64         // -n
	fastest float64       // the highest fresh requests/s of the runs so far
	minted  int64         // tokens minted so far, in all
}

// Sizing a pool from -d when -pool is 0: fresh tokens do all the work of
// the reused one and more, so the requests/s of a warm-up with the reused
// token bound what a run needs, with a margin for the warm-up's cold start
// and a busy machine; an earlier fresh run (against any server) bounds it
// too. With neither (-warmup 0, the first run), defaultPool. A pool that
// still runs out early makes a shorter run, which the report says.
const (
	warmMargin  = 1.5
	freshMargin = 1.3
	defaultPool = 20_000
	minPool     = 1_000
)

func newFreshTokens(o *options, mint func() (string, error)) *freshTokens {
	return &freshTokens{mint: mint, fixed: o.pool, d: o.duration, max: o.max}
}

// size is how many tokens the next run gets, given the requests/s of its
// warm-up (0 if there was none).
func (f *freshTokens) size(warmRPS float64) int {
	n := float64(f.fixed)
	if n == 0 {
		rate := math.Inf(1)
		if warmRPS > 0 {
			rate = warmRPS * warmMargin
		}
		if f.fastest > 0 {
			rate = min(rate, f.fastest*freshMargin)
		}
		n = defaultPool
		if !math.IsInf(rate, 1) {
			n = max(math.Ceil(rate*f.d.Seconds()), minPool)
		}
	}
	return int(min(n, float64(f.max), maxPool))
}

// next mints the pool of the next run.
func (f *freshTokens) next(warmRPS float64) ([]string, error) {
	n := f.size(warmRPS)
	t0 := time.Now()
	pool, err := suite.MintParallel(n, f.mint)
	if err != nil {
		return nil, err
	}
	f.minted += int64(n)
	fmt.Printf("\nload: minted %d fresh tokens in %v (before the run, on %d cores)\n", n, time.Since(t0).Round(time.Millisecond), runtime.GOMAXPROCS(0))
	return pool, nil
}

// observe records the rate of a fresh run, to size the next pools.
func (f *freshTokens) observe(r *result) {
	f.fastest = max(f.fastest, r.RPS())
}
