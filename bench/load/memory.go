package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
)

// memStats is a server's memory at one moment; -1 is unknown, or (Entries,
// Evictions) a server without a token cache.
type memStats struct {
	RSS       int64 // resident set (VmRSS), bytes
	LiveHeap  int64 // heap held by live objects after a collection, bytes
	Entries   int64 // tokens in Keyward's verified-token cache
	Evictions int64 // entries the cache dropped at its bound
}

var unknownMemory = memStats{RSS: -1, LiveHeap: -1, Entries: -1, Evictions: -1}

// residentBytes reads the resident set size of process pid from
// /proc/PID/status (Linux), or returns -1.
func residentBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(b) {
		v, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			return -1
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return -1
		}
		return kb << 10
	}
	return -1
}

// liveHeap runs a collection and returns the bytes of heap it found live
// (runtime/metrics /gc/heap/live:bytes), or -1.
func liveHeap() int64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return int64(s[0].Value.Uint64())
}

// reportMemory prints a server's memory before and after a -memory run
// and, for a server with a token cache, what each token it added costs.
func reportMemory(r *result) {
	before, after := r.Memory[0], r.Memory[1]
	fmt.Printf("  memory: resident %s -> %s (VmRSS), live heap %s -> %s (after a GC)\n",
		mib(before.RSS), mib(after.RSS), mib(before.LiveHeap), mib(after.LiveHeap))
	if before.Entries < 0 || after.Entries < 0 {
		fmt.Println("  no token cache")
		return
	}
	fmt.Printf("  token cache: %d -> %d entries (%d evicted in all)\n", before.Entries, after.Entries, after.Evictions)
	if after.Entries > before.Entries {
		fmt.Printf("  per cached token: %s of live heap, %s resident\n", bytesOrNA(liveHeapPerToken(r)), bytesOrNA(residentPerToken(r)))
	}
}

// liveHeapPerToken and residentPerToken are a -memory run's growth per
// token it added to the cache, or NaN.
func liveHeapPerToken(r *result) float64 {
	return growthPerToken(r, func(m memStats) int64 { return m.LiveHeap })
}

func residentPerToken(r *result) float64 {
	return growthPerToken(r, func(m memStats) int64 { return m.RSS })
}

func growthPerToken(r *result, f func(memStats) int64) float64 {
	if r.Memory == nil {
		return math.NaN()
	}
	before, after := r.Memory[0], r.Memory[1]
	added := after.Entries - before.Entries
	if f(before) < 0 || f(after) < 0 || before.Entries < 0 || added <= 0 {
		return math.NaN()
	}
	return float64(f(after)-f(before)) / float64(added)
}

// mib formats n bytes in MiB, or n/a for -1.
func mib(n int64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// bytesOrNA formats n bytes, or n/a for NaN.
func bytesOrNA(n float64) string {
	if math.IsNaN(n) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f B", n)
}
