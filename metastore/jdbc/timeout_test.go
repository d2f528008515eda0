package jdbc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// openWithin opens cfg and fails the test if Open takes longer than limit
// (it runs on: a hang would otherwise hang the test).
func openWithin(t *testing.T, cfg Config, limit time.Duration) (*Store, error, time.Duration) {
	t.Helper()
	type result struct {
		s   *Store
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		s, err := Open(context.Background(), cfg)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.s != nil {
			t.Cleanup(func() { r.s.Close() })
		}
		return r.s, r.err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("Open of %s still waiting after %s", cfg.Describe(), limit)
	}
	return nil, nil, 0
}

// TestSilentServer opens a metastore on a host that accepts TCP
// connections and never answers: Open gives up after the connect timeout
// (of the Config, or of the JDBC URL's connectTimeout) with an error that
// names the host and wraps ErrTimeout and ErrUnreachable, and never shows
// the password. go-sql-driver alone waits forever.
func TestSilentServer(t *testing.T) {
	t.Parallel()
	const secret = "Silent-Pw-4711"
	for _, c := range []struct {
		name, url string
		timeout   time.Duration
	}{
		{"mysql", "jdbc:mysql://%s/kylin", time.Second},
		{"postgres", "jdbc:postgresql://%s/kylin", time.Second},
		{"mysql connectTimeout", "jdbc:mysql://%s/kylin?connectTimeout=1000", 0},
		{"postgres connectTimeout", "jdbc:postgresql://%s/kylin?connectTimeout=1", 0},
		{"mariadb user:password@", "jdbc:mariadb://kylin:" + secret + "@%s/kylin", time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			addr := metastoretest.SilentServer(t)
			cfg := Config{URL: strings.Replace(c.url, "%s", addr, 1), Username: "kylin", Password: secret, ConnectTimeout: c.timeout}
			_, err, took := openWithin(t, cfg, 20*time.Second)
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("Open of a silent server: %v, want ErrTimeout naming %s", err, addr)
			}
			var se *SilenceError
			if !errors.As(err, &se) || se.Wait != time.Second || !se.Connecting {
				t.Errorf("Open of a silent server: %v, want a *SilenceError of a 1s connect timeout", err)
			}
			if took < 900*time.Millisecond || took > 10*time.Second {
				t.Errorf("Open of a silent server failed after %s, want about 1s", took)
			}
			noSecret(t, "Open's error", err.Error(), secret)
			t.Logf("after %s: %v", took.Round(time.Millisecond), err)
		})
	}
}

// TestRefusedPort opens a metastore on a port where nothing listens: Open
// fails at once, not after the connect timeout, naming the host.
func TestRefusedPort(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"jdbc:mysql", "jdbc:postgresql"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			addr := metastoretest.ClosedPort(t)
			_, err, took := openWithin(t, Config{URL: scheme + "://" + addr + "/kylin", Username: "kylin", Password: "x"}, 20*time.Second)
			if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("Open of a closed port: %v, want ErrUnreachable naming %s", err, addr)
			}
			if took > 5*time.Second {
				t.Errorf("Open of a closed port failed after %s, want at once", took)
			}
		})
	}
}

// TestTimeouts checks which connect and I/O timeouts a store uses: the
// Config's, else the JDBC URL's (seconds for PostgreSQL, milliseconds for
// MySQL), else the defaults.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url              string
		connect, io      time.Duration
		wantConn, wantIO time.Duration
	}{
		{"jdbc:mysql://h/k", 0, 0, DefaultConnectTimeout, DefaultIOTimeout},
		{"jdbc:postgresql://h/k", 0, 0, 15 * time.Second, 2 * time.Minute},
		{"jdbc:postgresql://h/k", 2 * time.Second, 0, 2 * time.Second, 16 * time.Second},
		{"jdbc:mysql://h/k", 2 * time.Second, 3 * time.Second, 2 * time.Second, 3 * time.Second},
		{"jdbc:mysql://h/k?connectTimeout=5000&socketTimeout=30000", 0, 0, 5 * time.Second, 30 * time.Second},
		{"jdbc:postgresql://h/k?connectTimeout=5&socketTimeout=30", 0, 0, 5 * time.Second, 30 * time.Second},
		{"jdbc:postgresql://h/k?connectTimeout=5", 0, 0, 5 * time.Second, DefaultIOTimeout},
		{"jdbc:postgresql://h/k?connectTimeout=5&socketTimeout=30", time.Second, 0, time.Second, 8 * time.Second},
		{"jdbc:mysql://h/k?connectTimeout=0&socketTimeout=x", 0, 0, DefaultConnectTimeout, DefaultIOTimeout},
	}
	for _, tt := range tests {
		u, err := ParseJDBCURL(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		c, io := Config{URL: tt.url, ConnectTimeout: tt.connect, IOTimeout: tt.io}.timeouts(u)
		if c != tt.wantConn || io != tt.wantIO {
			t.Errorf("%s with %s, %s: timeouts %s, %s; want %s, %s", tt.url, tt.connect, tt.io, c, io, tt.wantConn, tt.wantIO)
		}
	}
}

// proxy forwards TCP connections to a database server until freeze is
// called: then it keeps every connection open, reads what the client sends
// and forwards nothing more either way, like a server that stopped
// answering in the middle of a backup.
type proxy struct {
	addr   string
	frozen atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !p.frozen.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if !p.frozen.Load() {
					dst.Close()
				}
				return
			}
		}
	}
	p.addr = metastoretest.LoopbackServer(t, func(c net.Conn) []net.Conn {
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return nil
		}
		go pipe(s, c)
		go pipe(c, s)
		return []net.Conn{c, s}
	})
	return p
}

// viaProxy returns cfg with its JDBC URL's host replaced by a proxy to it.
func viaProxy(t *testing.T, cfg Config) (Config, *proxy) {
	t.Helper()
	u, err := ParseJDBCURL(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Hosts[0])
	cfg.URL = strings.Replace(cfg.URL, u.Hosts[0], p.addr, 1)
	if !strings.Contains(cfg.URL, p.addr) {
		t.Fatalf("cannot put the proxy in %s", MaskJDBCURL(cfg.URL))
	}
	return cfg, p
}

// within runs fn and fails the test if it takes longer than limit.
func within(t *testing.T, what string, limit time.Duration, fn func() error) (error, time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("%s still waiting after %s", what, limit)
	}
	return nil, 0
}

// TestServerFallsSilent lets a real database server stop answering (a proxy
// stops forwarding) in the middle of the work: reads, a consistent view
// and a transaction each fail within about the I/O timeout (1s here), with
// an error naming the host that wraps ErrTimeout, instead of hanging.
func TestServerFallsSilent(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		seed := openNew(t, db, Schema5)
		for _, k := range []string{"/UUID", "/project/p.json", "/cube/c.json"} {
			if err := seed.Write(ctx, metastore.Resource{Path: k, Data: []byte(`{"k":"` + k + `"}`), Timestamp: 1}); err != nil {
				t.Fatal(err)
			}
		}
		for _, op := range []string{"read", "view", "walk", "commit"} {
			t.Run(op, func(t *testing.T) {
				cfg, p := viaProxy(t, seed.cfg)
				cfg.CreateSchema, cfg.ConnectTimeout, cfg.IOTimeout = "", 2*time.Second, time.Second
				s, err := Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					within(t, "Close", 10*time.Second, s.Close)
				}()
				if _, err := s.Read(ctx, "/UUID"); err != nil {
					t.Fatalf("Read before the server falls silent: %v", err)
				}
				var v metastore.View
				var tx metastore.Tx
				switch op {
				case "walk":
					if v, err = s.View(ctx); err != nil {
						t.Fatal(err)
					}
					defer v.Close()
				case "commit":
					if tx, err = s.Begin(ctx); err != nil {
						t.Fatal(err)
					}
					defer tx.Rollback()
					if err := tx.Write(ctx, metastore.Resource{Path: "/cube/d.json", Data: []byte("{}"), Timestamp: 2}); err != nil {
						t.Fatal(err)
					}
				}
				p.frozen.Store(true)
				err, took := within(t, op, 30*time.Second, func() error {
					switch op {
					case "read":
						_, err := s.Read(ctx, "/project/p.json")
						return err
					case "view":
						v, err := s.View(ctx)
						if err == nil {
							v.Close()
						}
						return err
					case "walk":
						return v.(metastore.Walker).Walk(ctx, "/", func(metastore.Resource, error) error { return nil })
					}
					return tx.Commit(ctx)
				})
				if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), p.addr) {
					t.Fatalf("%s after the server fell silent: %v, want ErrTimeout naming %s", op, err, p.addr)
				}
				if took > 15*time.Second {
					t.Errorf("%s failed after %s, want about the 1s I/O timeout (or the 2s connect timeout)", op, took)
				}
				noSecret(t, op+"'s error", err.Error(), db.password())
				t.Logf("after %s: %v", took.Round(time.Millisecond), err)
			})
		}
	})
}

// TestLongWorkIsNotCut checks that the I/O timeout is about silence, not
// about how long the work takes: with a 2 s I/O timeout, a transaction of
// 1,200 writes that lasts three times as long, with pauses longer than the
// timeout between statements, commits; a walk whose reader pauses longer
// than the timeout completes. (Each statement itself must answer within
// 2 s, on a host loaded by the other tests.)
func TestLongWorkIsNotCut(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		seed := openNew(t, db, Schema4)
		cfg := seed.cfg
		const timeout = 2 * time.Second
		cfg.CreateSchema, cfg.IOTimeout = "", timeout
		s := openConfig(t, cfg)
		start := time.Now()
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const n = 1200
		for i := range n {
			data := []byte(strings.Repeat("x", 2000+i))
			if err := tx.Write(ctx, metastore.Resource{Path: fmt.Sprintf("/table/T%d/r%04d.json", i%26, i), Data: data, Timestamp: int64(i)}); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			if i%500 == 250 {
				time.Sleep(timeout + timeout/2) // idle in the transaction
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit after %s: %v", time.Since(start), err)
		}
		txTook := time.Since(start)
		v, err := s.View(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		start = time.Now()
		rows := 0
		err = v.(metastore.Walker).Walk(ctx, "/", func(r metastore.Resource, err error) error {
			rows++
			if rows%500 == 0 {
				time.Sleep(timeout + timeout/2) // a slow reader
			}
			return err
		})
		if err != nil || rows != n {
			t.Fatalf("Walk after %s: %d rows, %v; want %d rows", time.Since(start), rows, err, n)
		}
		took := time.Since(start)
		if txTook < 2*timeout || took < 2*timeout {
			t.Errorf("the transaction took %s and the walk %s, want each longer than twice the timeout", txTook, took)
		}
		t.Logf("with a %s I/O timeout: a %d-write transaction took %s, a slow walk %s", timeout, n, txTook.Round(time.Millisecond), took.Round(time.Millisecond))
	})
}

// TestSilentConn checks the deadlines of a connection: a read the peer
// leaves unanswered for the timeout fails with a SilenceError, reported
// and closing the connection; a deadline the driver sets itself (to
// interrupt a read) fails only that read, as a plain timeout; reads that
// each wait less than the timeout succeed however long they take together.
func TestSilentConn(t *testing.T) {
	t.Parallel()
	const timeout = 600 * time.Millisecond
	pair := func() (*silentConn, net.Conn, *atomic.Pointer[SilenceError]) {
		server, client := net.Pipe()
		t.Cleanup(func() { server.Close(); client.Close() })
		var silent atomic.Pointer[SilenceError]
		return &silentConn{Conn: client, addr: "db:5432", timeout: timeout, silent: &silent}, server, &silent
	}
	buf := make([]byte, 16)

	c, _, silent := pair()
	start := time.Now()
	_, err := c.Read(buf)
	var se *SilenceError
	if !errors.As(err, &se) || !errors.Is(err, ErrTimeout) || se.Addr != "db:5432" || silent.Load() != se {
		t.Fatalf("Read from a silent peer: %v, want a reported SilenceError", err)
	}
	if took := time.Since(start); took < timeout || took > 15*timeout {
		t.Errorf("Read from a silent peer failed after %s, want %s", took, timeout)
	}
	if _, err := c.Conn.Write([]byte("x")); err == nil {
		t.Errorf("the connection is still open after the timeout")
	}

	c, _, silent = pair()
	c.SetReadDeadline(time.Now().Add(timeout / 4))
	_, err = c.Read(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &se) || silent.Load() != nil {
		t.Fatalf("Read past the driver's deadline: %v, want a plain timeout, not reported", err)
	}
	c.SetReadDeadline(time.Time{})

	c, server, silent := pair()
	go func() {
		for range 5 {
			time.Sleep(timeout / 2)
			server.Write([]byte("row"))
		}
	}()
	start = time.Now()
	for i := range 5 {
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("read %d after %s: %v", i, time.Since(start), err)
		}
	}
	if took := time.Since(start); took < 2*timeout || silent.Load() != nil {
		t.Errorf("5 reads waiting half the timeout each took %s (silence reported: %v)", took, silent.Load())
	}
}
