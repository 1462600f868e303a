package throttle

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// redisPackage is the Debian package that ships redis-server.
const redisPackage = "redis-server"

// redisServer is a redis-server of a test's own, on a loopback port, with
// nothing saved to disk.
type redisServer struct {
	t    testing.TB
	bin  string
	port int
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	out    *syncBuffer
}

// needRedis returns the path of redis-server. Where it is missing, the test
// fails if CI=true, and is skipped otherwise.
func needRedis(t testing.TB) string {
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

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts a redis-server on a free loopback port, with a
// temporary directory and no persistence, and stops it when the test ends.
// With tls, the port is a TLS port with the files given in extra.
func startRedis(t testing.TB, tls bool, extra ...string) *redisServer {
	t.Helper()
	s := &redisServer{t: t, bin: needRedis(t), port: freePort(t)}
	port := strconv.Itoa(s.port)
	s.args = []string{"--bind", "127.0.0.1", "--dir", t.TempDir(), "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""}
	if tls {
		s.args = append(s.args, "--port", "0", "--tls-port", port)
	} else {
		s.args = append(s.args, "--port", port)
	}
	s.args = append(s.args, extra...)
	s.start()
	t.Cleanup(s.stop)
	return s
}

// addr is the server's host:port.
func (s *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// url is a redis:// URL of the server.
func (s *redisServer) url() string { return "redis://" + s.addr() + "/0" }

// start starts the server, on its port, and waits until it is ready.
func (s *redisServer) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &syncBuffer{}
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

// stop kills the server (SIGKILL: as a crash) and waits for it to exit.
func (s *redisServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testLogger returns a logger that writes text lines to a buffer.
func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// waitFor polls cond every 10ms until it holds, or fails the test after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
