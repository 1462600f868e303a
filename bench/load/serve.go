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
		t.EditKeyward = func(cfg *dualauth.Config) { cfg.TokenCache.Disabled = true }
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
	// cpu, if set, returns the CPU time the server's process has used.
	cpu func() (time.Duration, bool)
}

func (s *server) Close() { s.stop() }

// CPU returns the CPU time the server's process has used so far, if it
// runs in a process of its own.
func (s *server) CPU() (time.Duration, bool) {
	if s.cpu == nil {
		return 0, false
	}
	return s.cpu()
}

// startInProcess serves cfg.Impl from this process.
func startInProcess(cfg serveConfig) (*server, error) {
	t, err := cfg.trust()
	if err != nil {
		return nil, err
	}
	impl, err := suite.Build(context.Background(), cfg.Impl, t, cfg.Alg)
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
	return &server{Addr: ln.Addr().String(), stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		impl.Close()
	}}, nil
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
	cpu := func() (time.Duration, bool) {
		mu.Lock()
		defer mu.Unlock()
		if _, err := io.WriteString(stdin, "cpu\n"); err != nil {
			return 0, false
		}
		line, err := out.ReadString('\n')
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "cpu ")
		n, perr := strconv.ParseInt(v, 10, 64)
		if err != nil || !ok || perr != nil || n < 0 {
			return 0, false
		}
		return time.Duration(n), true
	}
	return &server{Addr: addr, stop: stop, cpu: cpu}, nil
}

// childMain is main in a server child: serve, say where, answer each "cpu"
// line on standard input with the CPU time used so far ("cpu NANOSECONDS"),
// and stop when standard input closes (the parent closed it or went away).
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
		if in.Text() == "cpu" {
			t, ok := suite.ProcessCPU()
			if !ok {
				t = -1
			}
			fmt.Printf("cpu %d\n", t.Nanoseconds())
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
