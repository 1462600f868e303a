#!/usr/bin/env bash
# Runs the benchmarks of bench/README.md and writes their raw output to
# results/ (or $OUT), then prints the benchstat comparison and the README's
# tables.
#
# Each round is a separate run of one test binary with -count 1, so that
# the implementations take turns across the whole run instead of each
# having its 10 samples back to back: on a machine other work shares, a
# burst of load then spreads over all of them. -count 10 in one process
# (the plain commands in the README) measures the same thing on a quiet
# machine.
#
# PARTS=load runs bench/README.md's "Load over loopback" commands instead
# and writes results/load-*.txt (not part of the default run).
#
#   ./run.sh                          # 10 rounds, 1s per reused benchmark: about 25 minutes
#   ROUNDS=8 FRESH_ROUNDS=6 CRED_ROUNDS=6 BENCHTIME=200ms ./run.sh
#                                     # what bench/README.md's table was made with, about 7 minutes
#   PARTS=load ./run.sh               # the load runs of bench/README.md, about 15 minutes
#   PARTS=grpc GRPC_ROUNDS=6 BENCHTIME=200ms ./run.sh
#                                     # the gRPC interceptor's cost alone (results/grpc.txt), under a minute
#   PARTS=opaque OPAQUE_ROUNDS=6 BENCHTIME=200ms ./run.sh
#                                     # a reused opaque token beside a reused JWT (results/opaque.txt)
#   PARTS=dpop DPOP_ROUNDS=6 ./run.sh
#                                     # a reused DPoP-bound token with a new proof per request beside a
#                                     # reused Bearer token, and one proof's signature (results/dpop.txt)
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-10}
BENCHTIME=${BENCHTIME:-1s}          # reused tokens, harness, cached credentials
FRESH_ROUNDS=${FRESH_ROUNDS:-$ROUNDS}
CRED_ROUNDS=${CRED_ROUNDS:-$ROUNDS}
GRPC_ROUNDS=${GRPC_ROUNDS:-$ROUNDS}
OPAQUE_ROUNDS=${OPAQUE_ROUNDS:-$ROUNDS}
DPOP_ROUNDS=${DPOP_ROUNDS:-$ROUNDS}
DPOP_BENCHTIME=${DPOP_BENCHTIME:-3000x} # a count (Nx): proofs are single use, each benchmark signs b.N of them before its timer
OUT=${OUT:-results}
PARTS=${PARTS:-reused fresh credentials grpc opaque dpop} # which parts to run (also: load); the others' files are kept
LOAD_ROUNDS=${LOAD_ROUNDS:-3}       # load: rounds of the anchor and the targets in turn
LOAD_ALGS=${LOAD_ALGS:-RS256 ES256 EdDSA}
BENCHSTAT=${BENCHSTAT:-go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

mkdir -p "$OUT"
has() { [[ " $PARTS " == *" $1 "* ]]; }
if has reused || has fresh || has credentials || has grpc || has opaque || has dpop; then
	go test -c -o "$OUT/bench.test" .
fi
has reused && : >"$OUT/jwt-reused.txt"
has fresh && : >"$OUT/jwt-fresh.txt"
has credentials && : >"$OUT/credentials.txt"
has grpc && : >"$OUT/grpc.txt"
has opaque && : >"$OUT/opaque.txt"
has dpop && : >"$OUT/dpop.txt"

has reused && for i in $(seq "$ROUNDS"); do
	echo "round $i/$ROUNDS: reused tokens" >&2
	"$OUT/bench.test" -test.run '^$' -test.bench 'JWT/.*/token=reused' \
		-test.benchmem -test.benchtime "$BENCHTIME" >>"$OUT/jwt-reused.txt"
done
has fresh && for i in $(seq "$FRESH_ROUNDS"); do
	echo "round $i/$FRESH_ROUNDS: fresh tokens" >&2
	"$OUT/bench.test" -test.run '^$' -test.bench 'JWT/.*/token=fresh' \
		-test.benchmem -test.benchtime 3000x >>"$OUT/jwt-fresh.txt"
done
has credentials && for i in $(seq "$CRED_ROUNDS"); do
	echo "round $i/$CRED_ROUNDS: client credentials" >&2
	"$OUT/bench.test" -test.run '^$' -test.bench 'Credentials|Harness' \
		-test.benchmem -test.benchtime "$BENCHTIME" >>"$OUT/credentials.txt"
done
# gRPC: one unary call over bufconn with no interceptor, the interceptor
# on a public method and on a reused token, in the same rounds.
has grpc && for i in $(seq "$GRPC_ROUNDS"); do
	echo "round $i/$GRPC_ROUNDS: gRPC" >&2
	"$OUT/bench.test" -test.run '^$' -test.bench 'GRPC' \
		-test.benchmem -test.benchtime "$BENCHTIME" >>"$OUT/grpc.txt"
done
# Opaque tokens: a reused opaque token (introspected once, then cached)
# beside a reused JWT on the same handler, in the same rounds.
has opaque && for i in $(seq "$OPAQUE_ROUNDS"); do
	echo "round $i/$OPAQUE_ROUNDS: opaque tokens" >&2
	"$OUT/bench.test" -test.run '^$' -test.bench 'Opaque' \
		-test.benchmem -test.benchtime "$BENCHTIME" >>"$OUT/opaque.txt"
done
# DPoP: a reused DPoP-bound token with a proof never sent before on every
# request, beside a reused Bearer token on the same handler and golang-jwt
# verifying one proof, in the same rounds.
has dpop && for i in $(seq "$DPOP_ROUNDS"); do
	echo "round $i/$DPOP_ROUNDS: DPoP" >&2
	"$OUT/bench.test" -test.run '^$' -test.bench 'DPoP' \
		-test.benchmem -test.benchtime "$DPOP_BENCHTIME" >>"$OUT/dpop.txt"
done
rm -f "$OUT/bench.test"

# Load over loopback: 32 connections, medians of LOAD_ROUNDS rounds; fresh
# tokens are minted for each run, after its warm-up and before it starts.
if has load; then
	go build -o "$OUT/load.bin" ./load
	echo "load: reused tokens" >&2
	"$OUT/load.bin" -compare -target keyward-nethttp,keyward-echo,auth0 -tokens reused \
		-d 5s -rounds "$LOAD_ROUNDS" >"$OUT/load-reused.txt"
	echo "load: client credentials" >&2
	"$OUT/load.bin" -target keyward-nethttp,keyward-echo -tokens credentials -d 5s >"$OUT/load-credentials.txt"
	for alg in $LOAD_ALGS; do
		echo "load: fresh $alg tokens" >&2
		"$OUT/load.bin" -compare -target keyward-nethttp,keyward-echo -tokens fresh -alg "$alg" \
			-d 5s -rounds "$LOAD_ROUNDS" -memory >"$OUT/load-fresh-$alg.txt"
	done
	# Memory at the token cache's bound (100,000 entries): the anchor, which
	# caches nothing, for comparison.
	echo "load: memory per cached token, up to the bound" >&2
	"$OUT/load.bin" -target anchor,keyward-nethttp,keyward-echo -tokens fresh -alg ES256 \
		-pool 100000 -d 5m -memory >"$OUT/load-memory.txt"
	rm -f "$OUT/load.bin"
fi
if has grpc; then
	$BENCHSTAT -col /call "$OUT/grpc.txt" >"$OUT/grpc.benchstat"
fi
if has opaque; then
	$BENCHSTAT -col /token "$OUT/opaque.txt" >"$OUT/opaque.benchstat"
fi
if has dpop; then
	$BENCHSTAT -col /token "$OUT/dpop.txt" >"$OUT/dpop.benchstat"
fi
has reused || has fresh || has credentials || exit 0

for f in jwt-reused jwt-fresh; do
	$BENCHSTAT -col /impl "$OUT/$f.txt" >"$OUT/$f.benchstat"
done
$BENCHSTAT "$OUT/credentials.txt" >"$OUT/credentials.benchstat"
go run ./cmd/benchtable "$OUT/jwt-reused.txt" "$OUT/jwt-fresh.txt" "$OUT/credentials.txt" | tee "$OUT/table.md"
