package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/bench/internal/suite"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
)

// serveEnv names the environment variable that makes this program a server
// child: it holds a serveConfig as JSON.
const serveEnv = "KEYWARD_BENCH_LOAD_SERVE"

// serveConfig is what a server needs to build an implementation.
type serveConfig struct {
	Impl     string `json:"impl"`
	Issuer   string `json:"issuer"`
	JWKSURL  string `json:"jwks_url"`
	Audience string `json:"audience"`
	Alg      string `json:"alg"`
	// ClientsYAML, if set, is the client registry (Keyward only).
	ClientsYAML []byte `json:"clients_yaml,omitempty"`
	// NoTokenCache turns Keyward's verified-token cache off.
	NoTokenCache bool `json:"no_token_cache,omitempty"`
}

func (c serveConfig) trust() (suite.Trust, error) {
	t := suite.Trust{Issuer: c.Issuer, JWKSURL: c.JWKSURL, Audience: c.Audience}
	if c.NoTokenCache {
		t.EditKeyward = func(cfg *jwtauth.Config) { cfg.TokenCache.Disabled = true }
	}
	if len(c.ClientsYAML) > 0 && strings.HasPrefix(c.Impl, "keyward-") {
		reg, err := clients.Parse(c.ClientsYAML)
		if err != nil {
			return t, err
		}
		t.Clients = reg
	}
	return t, nil
}

// server is a running implementation on a loopback port.
type server struct {
	Addr string
	stop func()
	// ask, for a server child, writes a command line to it and returns the
	// fields of its answer.
	ask func(cmd string) ([]string, bool)
	// pid is a server child's process id.
	pid int
	// cache, for Keyward in this process, reports its token cache.
	cache func() dualauth.CacheStatus
}

func (s *server) Close() { s.stop() }

// CPU returns the CPU time the server's process has used so far, if it
// runs in a process of its own.
func (s *server) CPU() (time.Duration, bool) {
	if s.ask == nil {
		return 0, false
	}
	f, ok := s.ask("cpu")
	if !ok || len(f) != 1 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n), true
}

// Memory returns a server child's memory: its resident set, read from
// /proc, and then the live heap after a collection and the token cache's
// size, as the child reports them.
func (s *server) Memory() memStats {
	m := unknownMemory
	if s.ask == nil {
		return m
	}
	m.RSS = residentBytes(s.pid)
	f, ok := s.ask("mem")
	if !ok || len(f) != 3 {
		return m
	}
	var v [3]int64
	for i := range f {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return m
		}
		v[i] = n
	}
	m.LiveHeap, m.Entries, m.Evictions = v[0], v[1], v[2]
	return m
}

// startInProcess serves cfg.Impl from this process.
func startInProcess(cfg serveConfig) (*server, error) {
	t, err := cfg.trust()
	if err != nil {
		return nil, err
	}
	impl, cache, err := build(cfg.Impl, t, cfg.Alg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		impl.Close()
		return nil, err
	}
	srv := &http.Server{Handler: impl.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &server{Addr: ln.Addr().String(), cache: cache, stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		impl.Close()
	}}, nil
}

// build builds implementation name as suite.Build does, and for Keyward
// also returns what reports its token cache (nil for the others).
func build(name string, t suite.Trust, alg string) (*suite.Server, func() dualauth.CacheStatus, error) {
	if name != suite.ImplKeywardNetHTTP && name != suite.ImplKeywardEcho {
		impl, err := suite.Build(context.Background(), name, t, alg)
		return impl, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := suite.NewKeyward(ctx, t)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	h := suite.KeywardNetHTTP(a)
	if name == suite.ImplKeywardEcho {
		h = suite.KeywardEcho(a)
	}
	return &suite.Server{Name: name, Handler: h, Close: func() { _ = a.Close(); cancel() }}, a.TokenCacheStatus, nil
}

// startChild serves cfg.Impl from a child process running this program, so
// that the server's heap, GC and scheduler are its own and not the load
// generator's. The child ends when its standard input closes.
func startChild(cfg serveConfig) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serveEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill() // our own child, by its handle
			<-done
		}
	}
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		stop()
		return nil, fmt.Errorf("server %s did not start (%q, %v)", cfg.Impl, line, err)
	}
	var mu sync.Mutex
	ask := func(cmd string) ([]string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if _, err := io.WriteString(stdin, cmd+"\n"); err != nil {
			return nil, false
		}
		line, err := out.ReadString('\n')
		f := strings.Fields(line)
		if err != nil || len(f) == 0 || f[0] != cmd {
			return nil, false
		}
		return f[1:], true
	}
	return &server{Addr: addr, stop: stop, ask: ask, pid: cmd.Process.Pid}, nil
}

// childMain is main in a server child: serve, say where, and stop when
// standard input closes (the parent closed it or went away). It answers
// each line on standard input:
//
//	cpu   "cpu NANOSECONDS": the CPU time used so far (-1 if unknown)
//	mem   "mem LIVE ENTRIES EVICTIONS": the live heap in bytes after a
//	      collection, and Keyward's cached tokens and evictions (-1 -1 for
//	      a server without a token cache)
func childMain(js string) error {
	var cfg serveConfig
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		return err
	}
	s, err := startInProcess(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", s.Addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "cpu":
			t, ok := suite.ProcessCPU()
			if !ok {
				t = -1
			}
			fmt.Printf("cpu %d\n", t.Nanoseconds())
		case "mem":
			entries, evictions := int64(-1), int64(-1)
			if s.cache != nil {
				st := s.cache()
				entries, evictions = int64(st.Entries), int64(st.Evictions)
			}
			fmt.Printf("mem %d %d %d\n", liveHeap(), entries, evictions)
		}
	}
	s.Close()
	return nil
}

// isLoopbackURLHost reports whether host (from a URL, maybe with a port) is
// a loopback address: the only targets this program drives.
func isLoopbackHost(hostport string) error {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil || !ip.IsLoopback() {
		return errors.New("only loopback targets (127.0.0.0/8, [::1], localhost) may be driven")
	}
	return nil
}
