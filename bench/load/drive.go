package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// requestSource renders request i into buf (HTTP/1.1 on a keep-alive
// connection). ok is false when the source has run out (fresh tokens).
type requestSource func(buf []byte, i int64) (out []byte, ok bool)

// bearerSource sends token every time, or tokens[i] for request i; extra
// is more header lines, each ending in CRLF.
func bearerSource(route, host, extra string, token string, tokens []string) requestSource {
	return func(buf []byte, i int64) ([]byte, bool) {
		tok := token
		if tokens != nil {
			if i >= int64(len(tokens)) {
				return buf, false
			}
			tok = tokens[i]
		}
		buf = fmt.Appendf(buf[:0], "GET %s HTTP/1.1\r\nHost: %s\r\n%sAuthorization: Bearer %s\r\n\r\n", route, host, extra, tok)
		return buf, true
	}
}

// credentialsSource sends the client id and secret headers every time;
// extra is more header lines, each ending in CRLF.
func credentialsSource(route, host, extra, id, secret string) requestSource {
	req := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\n%sclient_id: %s\r\nclient_secret: %s\r\n\r\n", route, host, extra, id, secret)
	return func(buf []byte, _ int64) ([]byte, bool) { return append(buf[:0], req...), true }
}

// result is one bounded run against one server.
type result struct {
	Name     string
	Requests int64 // answered, any status
	OK       int64 // answered 200
	Statuses map[int]int64
	Errors   int64 // connection or protocol errors
	Elapsed  time.Duration
	// ServerCPU is the CPU time the server's process used during the run,
	// when it has a process of its own (else 0).
	ServerCPU time.Duration
	// Pool is the number of fresh tokens minted for the run (0 for none),
	// and PoolRanOut tells that a pool sized from -d (not a -pool) ran out
	// before -d had passed.
	Pool       int
	PoolRanOut bool
	// Memory is the server's memory before and after the run, with -memory.
	Memory *[2]memStats
	lat    []time.Duration // of every answered request, sorted
}

// CPUPerRequest is the server's CPU time per answered request, or 0.
func (r *result) CPUPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Requests)
}

func (r *result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func (r *result) Percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p * float64(len(r.lat)-1))
	return r.lat[i]
}

func (r *result) Max() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[len(r.lat)-1]
}

// drive sends requests from src to addr over conns keep-alive connections
// until d has passed or max requests were sent or src runs out, whichever
// comes first, and times each one from its first byte written to its last
// byte read.
func drive(addr string, conns int, d time.Duration, max int64, src requestSource) *result {
	var (
		issued   atomic.Int64
		errs     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		statuses = map[int]int64{}
	)
	start := time.Now()
	deadline := start.Add(d)
	perConn := int(min(max/int64(conns)+1, 1<<20))
	for range conns {
		wg.Go(func() {
			mine := make([]time.Duration, 0, perConn)
			st := map[int]int64{}
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				for k, v := range st {
					statuses[k] += v
				}
				mu.Unlock()
			}()
			var (
				conn net.Conn
				br   *bufio.Reader
				buf  []byte
			)
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for {
				i := issued.Add(1) - 1
				if i >= max {
					return
				}
				var ok bool
				buf, ok = src(buf, i)
				if !ok {
					return
				}
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				if conn == nil {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						errs.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 16<<10)
				}
				code, keep, err := roundTrip(conn, br, buf)
				if err != nil {
					errs.Add(1)
					conn.Close()
					conn = nil
					continue
				}
				mine = append(mine, time.Since(t0))
				st[code]++
				if !keep {
					conn.Close()
					conn = nil
				}
			}
		})
	}
	wg.Wait()
	r := &result{Elapsed: time.Since(start), Statuses: statuses, Errors: errs.Load(), lat: lat}
	r.Requests = int64(len(lat))
	r.OK = statuses[http.StatusOK]
	slices.Sort(r.lat)
	return r
}

// roundTrip writes one request and reads its response, body included.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (code int, keepAlive bool, err error) {
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, !resp.Close && err == nil, err
}
