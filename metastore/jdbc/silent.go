package jdbc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// SilenceError is the error of a read or write that a database server left
// without an answer for the I/O timeout (Config.IOTimeout), or of a
// connection it did not accept within the connect timeout. Errors of the
// store wrap it when the driver keeps it.
type SilenceError struct {
	// Addr is the server's host:port.
	Addr string
	// Wait is how long it was waited for.
	Wait time.Duration
	// Connecting says the server did not let the store connect and log in.
	Connecting bool
}

func (e *SilenceError) Error() string {
	if e.Connecting {
		return fmt.Sprintf("database %s did not let us connect and log in within %s", e.Addr, e.Wait)
	}
	return fmt.Sprintf("database %s sent nothing for %s", e.Addr, e.Wait)
}

// Timeout and Temporary make a SilenceError a net.Error that says it is a
// timeout, as the drivers expect of a read or write that timed out.
func (e *SilenceError) Timeout() bool   { return true }
func (e *SilenceError) Temporary() bool { return false }

// Unwrap makes a SilenceError match ErrTimeout and os.ErrDeadlineExceeded.
func (e *SilenceError) Unwrap() []error { return []error{ErrTimeout, os.ErrDeadlineExceeded} }

// silentConn is a connection to a database server whose reads and writes
// fail, and close it, when the server makes them wait longer than timeout:
// each read or write has its own deadline, so that only silence fails, not
// a long result or a long transaction, and an idle connection has none.
// Deadlines the driver sets itself (pgx interrupts a read by one when a
// context is canceled) are kept when they come first.
type silentConn struct {
	net.Conn
	addr    string
	timeout time.Duration
	silent  *atomic.Pointer[SilenceError] // where a timeout is reported

	mu               sync.Mutex
	rd, wd           time.Time // the driver's deadlines; zero for none
	reading, writing bool      // a read or write is waiting
}

func (c *silentConn) Read(p []byte) (int, error) {
	ours, err := c.begin(&c.rd, &c.reading, c.Conn.SetReadDeadline)
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	return n, c.end(err, ours, &c.rd, &c.reading, c.Conn.SetReadDeadline)
}

func (c *silentConn) Write(p []byte) (int, error) {
	ours, err := c.begin(&c.wd, &c.writing, c.Conn.SetWriteDeadline)
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	return n, c.end(err, ours, &c.wd, &c.writing, c.Conn.SetWriteDeadline)
}

// begin sets the deadline of a read or write: the timeout from now, or the
// driver's deadline *set if that comes first. It returns ours, or the zero
// time if the driver's deadline applies.
func (c *silentConn) begin(set *time.Time, busy *bool, apply func(time.Time) error) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*busy = true
	ours := time.Now().Add(c.timeout)
	if !set.IsZero() && set.Before(ours) {
		return time.Time{}, apply(*set)
	}
	return ours, apply(ours)
}

// end puts the driver's deadline back after a read or write, and turns a
// timeout whose deadline was ours into a SilenceError: it reports it and
// closes the connection, since the server may still answer the statement
// and nothing may read that answer as the answer to another.
func (c *silentConn) end(err error, ours time.Time, set *time.Time, busy *bool, apply func(time.Time) error) error {
	c.mu.Lock()
	*busy = false
	apply(*set)
	driverDeadline := !set.IsZero() && !set.After(time.Now())
	c.mu.Unlock()
	if err == nil || ours.IsZero() || driverDeadline || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	se := &SilenceError{Addr: c.addr, Wait: c.timeout}
	c.silent.Store(se)
	c.Conn.Close()
	return se
}

// SetDeadline, SetReadDeadline and SetWriteDeadline record the driver's
// deadlines; the I/O timeout still bounds a read or write waiting now.
func (c *silentConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rd, c.wd = t, t
	return errors.Join(c.Conn.SetReadDeadline(c.soonest(t, c.reading)), c.Conn.SetWriteDeadline(c.soonest(t, c.writing)))
}

func (c *silentConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rd = t
	return c.Conn.SetReadDeadline(c.soonest(t, c.reading))
}

func (c *silentConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wd = t
	return c.Conn.SetWriteDeadline(c.soonest(t, c.writing))
}

// soonest returns the deadline to apply when the driver asks for t: t, or
// for a read or write waiting now (busy) the I/O timeout from now if that
// comes first.
func (c *silentConn) soonest(t time.Time, busy bool) time.Time {
	if !busy {
		return t
	}
	ours := time.Now().Add(c.timeout)
	if !t.IsZero() && t.Before(ours) {
		return t
	}
	return ours
}

// SyscallConn gives go-sql-driver the socket, to check an idle connection
// is still open before it uses it.
func (c *silentConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
