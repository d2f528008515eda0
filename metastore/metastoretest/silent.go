package metastoretest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// SilentServer listens on loopback, accepts connections, reads what they
// send and never answers, like a database host whose server hangs or a
// firewall that drops packets after the handshake. It returns its address;
// the test's cleanup closes it and its connections.
func SilentServer(t testing.TB) string {
	t.Helper()
	return LoopbackServer(t, func(c net.Conn) []net.Conn {
		go io.Copy(io.Discard, c)
		return []net.Conn{c}
	})
}

// LoopbackServer listens on loopback and hands each connection it accepts
// to accept, which serves it (in goroutines of its own) and returns the
// connections to close when the test ends: the one it was given and any it
// opened. It returns the server's address; the test's cleanup closes the
// listener and those connections.
func LoopbackServer(t testing.TB, accept func(net.Conn) []net.Conn) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			opened := accept(c)
			mu.Lock()
			conns = append(conns, opened...)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// ClosedPort returns a loopback address where nothing listens (a port it
// opened and closed again), like a database host whose server is down: a
// connection to it is refused at once.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
