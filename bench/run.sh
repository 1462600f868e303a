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
#   ./run.sh                          # 10 rounds, 1s per reused benchmark: about 25 minutes
#   ROUNDS=8 FRESH_ROUNDS=6 CRED_ROUNDS=6 BENCHTIME=200ms ./run.sh
#                                     # what bench/README.md's table was made with, about 7 minutes
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-10}
BENCHTIME=${BENCHTIME:-1s}          # reused tokens, harness, cached credentials
FRESH_ROUNDS=${FRESH_ROUNDS:-$ROUNDS}
CRED_ROUNDS=${CRED_ROUNDS:-$ROUNDS}
OUT=${OUT:-results}
PARTS=${PARTS:-reused fresh credentials} # which loops to run; the others' files are kept
BENCHSTAT=${BENCHSTAT:-go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

mkdir -p "$OUT"
go test -c -o "$OUT/bench.test" .
has() { [[ " $PARTS " == *" $1 "* ]]; }
has reused && : >"$OUT/jwt-reused.txt"
has fresh && : >"$OUT/jwt-fresh.txt"
has credentials && : >"$OUT/credentials.txt"

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
rm -f "$OUT/bench.test"

for f in jwt-reused jwt-fresh; do
	$BENCHSTAT -col /impl "$OUT/$f.txt" >"$OUT/$f.benchstat"
done
$BENCHSTAT "$OUT/credentials.txt" >"$OUT/credentials.benchstat"
go run ./cmd/benchtable "$OUT/jwt-reused.txt" "$OUT/jwt-fresh.txt" "$OUT/credentials.txt" | tee "$OUT/table.md"
