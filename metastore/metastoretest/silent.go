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
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	return ln.Addr().String()
}
