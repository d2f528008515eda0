package jdbc

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// Errors of this package; every database error Store returns wraps one of
// them (or a context error), with the server's own message after it.
var (
	// ErrUnreachable: the database server is down or cannot be reached
	// (connection refused, unknown host, timeout, connection lost).
	ErrUnreachable = errors.New("database is down or unreachable")
	// ErrTimeout: the server did not let the store connect within the
	// connect timeout, or sent nothing for the I/O timeout (see
	// Config.ConnectTimeout and Config.IOTimeout). Errors wrapping it wrap
	// ErrUnreachable and a *SilenceError too.
	ErrTimeout = errors.New("database did not answer in time")
	// ErrAuth: the server refused the user name or password.
	ErrAuth = errors.New("database refused the login")
	// ErrNoDatabase: the database named in the JDBC URL does not exist.
	ErrNoDatabase = errors.New("database does not exist")
	// ErrNoMetastore: the database holds no Kylin metastore of the given
	// identifier (tables or columns missing), or not the layout asked for.
	ErrNoMetastore = errors.New("no Kylin metastore in the database")
	// ErrPacketTooLarge: a resource is larger than MySQL's
	// max_allowed_packet lets one statement be.
	ErrPacketTooLarge = errors.New("resource too large for max_allowed_packet")
	// ErrKeyTooLong: a key is wider than the key column (VARCHAR(255) in
	// Kylin's tables).
	ErrKeyTooLong = errors.New("key too long for the metastore table")
	// ErrKeyCollision: the key column's collation (MySQL, case- or
	// accent-insensitive) takes two different keys for the same one.
	ErrKeyCollision = errors.New("key collides with another key under the table's collation")
	// ErrDatabase: any other error the database reported.
	ErrDatabase = errors.New("database error")
)

// translate turns a driver error met while doing what into an error of this
// package. A context error is passed through (wrapped) so that callers see
// context.Canceled.
func (s *Store) translate(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctx != nil && ctx.Err() != nil {
		return fmt.Errorf("jdbc: %s: %w", what, context.Cause(ctx))
	}
	if se := s.silence(err); se != nil {
		return fmt.Errorf("jdbc: %s: %w: %w (is it stopped, overloaded, or behind a firewall that drops packets? if it is only slow, raise the timeout)", what, ErrUnreachable, se)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("jdbc: %s: %w", what, err)
	}
	for _, e := range []error{ErrUnreachable, ErrTimeout, ErrAuth, ErrNoDatabase, ErrNoMetastore, ErrPacketTooLarge, ErrKeyCollision, ErrKeyTooLong, ErrDatabase, ErrConfig} {
		if errors.Is(err, e) {
			return err // already ours
		}
	}
	msg := s.scrub(err.Error())
	where := s.where()
	switch classify(err) {
	case classUnreachable:
		return fmt.Errorf("jdbc: %s: %w: database %s is down or unreachable: %s", what, ErrUnreachable, where, msg)
	case classAuth:
		return fmt.Errorf("jdbc: %s: %w: %s refused user %q (wrong username or password, or no access to database %s): %s", what, ErrAuth, where, s.user, s.dbName, msg)
	case classNoDatabase:
		return fmt.Errorf("jdbc: %s: %w: database %s does not exist on %s: %s", what, ErrNoDatabase, s.dbName, where, msg)
	case classNoTable:
		return fmt.Errorf("jdbc: %s: %w: %s: %s", what, ErrNoMetastore, s.describeTables(), msg)
	case classPacket:
		return fmt.Errorf("jdbc: %s: %w: %s (max_allowed_packet is %d bytes; raise it on the server, in my.cnf [mysqld] max_allowed_packet=...)", what, ErrPacketTooLarge, msg, s.maxPacket)
	}
	return fmt.Errorf("jdbc: %s: %w: %s", what, ErrDatabase, msg)
}

// silence returns the SilenceError behind a driver error met while the
// caller's context was alive, or nil if it is no timeout: a read or write
// the server left unanswered (pgx keeps the error; go-sql-driver reports a
// lost connection, and the connection reported the timeout to the store),
// or a connection not made within the connect timeout (the deadline of a
// context or a dial that only the store set).
func (s *Store) silence(err error) *SilenceError {
	var se *SilenceError
	if errors.As(err, &se) {
		return se
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || (errors.As(err, &ne) && ne.Timeout()) {
		return &SilenceError{Addr: s.where(), Wait: s.connectTimeout, Connecting: true}
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) {
		return s.silent.Load()
	}
	return nil
}

type errClass int

const (
	classOther errClass = iota
	classUnreachable
	classAuth
	classNoDatabase
	classNoTable
	classPacket
)

// classify sorts a pgx, go-sql-driver or network error.
func classify(err error) errClass {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "28P01" || pe.Code == "28000":
			return classAuth
		case pe.Code == "3D000":
			return classNoDatabase
		case pe.Code == "42P01" || pe.Code == "42703":
			return classNoTable
		case pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || strings.HasPrefix(pe.Code, "08"):
			return classUnreachable
		}
		return classOther
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045, 1044, 1698, 1251:
			return classAuth
		case 1049:
			return classNoDatabase
		case 1146, 1054:
			return classNoTable
		case 1153, 1301:
			return classPacket
		case 1040, 1053, 1077, 1152, 1158, 1159, 1160, 1161, 2002, 2003, 2006, 2013:
			return classUnreachable
		}
		return classOther
	}
	if errors.Is(err, mysql.ErrPktTooLarge) {
		return classPacket
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return classUnreachable
	}
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	if errors.As(err, &oe) || errors.As(err, &de) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EPIPE) {
		return classUnreachable
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return classUnreachable
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return classUnreachable
	}
	return classOther
}

// isDuplicate reports whether err is a MySQL duplicate-key error.
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// scrub removes the passwords from a message, in case a driver quoted one:
// the password the store logs in with, the password parameter as given
// (maybe encrypted), and whatever MaskJDBCURL hides in the JDBC URL.
func (s *Store) scrub(msg string) string {
	for _, sec := range s.secrets {
		msg = strings.ReplaceAll(msg, sec, "***")
	}
	return msg
}

// secretsOf returns the strings scrub hides for a store of cfg logging in
// with password pw: those of three bytes or more, longest first.
func secretsOf(cfg Config, pw string) []string {
	var out []string
	for _, sec := range append([]string{pw, cfg.Password, strings.TrimSpace(cfg.Password)}, secretTexts(cfg.URL)...) {
		if len(sec) >= 3 && !slices.Contains(out, sec) {
			out = append(out, sec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// where names the server for messages: the host:port pairs of the URL.
func (s *Store) where() string {
	return strings.Join(s.hosts, ",")
}

// describeTables names the tables the store uses or looked for.
func (s *Store) describeTables() string {
	if s.schema == SchemaTyped {
		return fmt.Sprintf("tables %s_* (one per metadata type) in database %s on %s", s.id, s.dbName, s.where())
	}
	if s.log.name != "" {
		return fmt.Sprintf("tables %s and %s in database %s on %s", s.main.name, s.log.name, s.dbName, s.where())
	}
	if s.main.name != "" {
		return fmt.Sprintf("table %s in database %s on %s", s.main.name, s.dbName, s.where())
	}
	return fmt.Sprintf("database %s on %s", s.dbName, s.where())
}
