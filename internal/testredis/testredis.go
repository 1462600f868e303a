// Package testredis starts redis-server instances for tests: each on a
// free loopback port, with a temporary directory and nothing saved, stopped
// when the test ends. Where redis-server is not installed, a test that
// needs one fails when CI=true and is skipped otherwise, naming the Debian
// package to install.
package testredis

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/syncbuf"
)

// redisPackage is the Debian package that ships redis-server.
const redisPackage = "redis-server"

// Server is a redis-server of a test's own, on a loopback port, with
// nothing saved to disk.
type Server struct {
	t    testing.TB
	bin  string
	port int
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	out    *syncbuf.Buffer
}

// Need returns the path of redis-server. Where it is missing, the test
// fails if CI=true, and is skipped otherwise.
func Need(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not installed: install the Debian package " + redisPackage + " (apt-get install -y " + redisPackage + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a redis-server on a free loopback port, with a
// temporary directory and no persistence, and stops it when the test ends.
// With tls, the port is a TLS port with the files given in extra.
func Start(t testing.TB, tls bool, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: Need(t), port: FreePort(t)}
	port := strconv.Itoa(s.port)
	s.args = []string{"--bind", "127.0.0.1", "--dir", t.TempDir(), "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""}
	if tls {
		s.args = append(s.args, "--port", "0", "--tls-port", port)
	} else {
		s.args = append(s.args, "--port", port)
	}
	s.args = append(s.args, extra...)
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is a redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Restart starts the server again, on its port, and waits until it is ready.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &syncbuf.Buffer{}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.out = cmd, out
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(out.String(), "Ready to accept connections") {
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("redis-server exited at start:\n%s", out.String())
		case <-deadline.C:
			_ = cmd.Process.Kill()
			<-exited
			s.cmd = nil
			s.t.Fatalf("redis-server not ready in 10s:\n%s", out.String())
		case <-tick.C:
		}
	}
	s.exited = exited // stop waits on it: cmd.Wait runs once, above
}

// Stop kills the server (SIGKILL: as a crash) and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Port is the server's port.
func (s *Server) Port() int { return s.port }
