package jdbc

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Timeouts used when neither the Config nor the JDBC URL sets one.
const (
	// DefaultConnectTimeout bounds connecting to the server and logging in.
	DefaultConnectTimeout = 15 * time.Second
	// DefaultIOTimeout is how long a connected server may send nothing
	// while the store waits for it.
	DefaultIOTimeout = IOTimeoutFactor * DefaultConnectTimeout
	// IOTimeoutFactor is how many connect timeouts a connected server may
	// stay silent when only the connect timeout is set. Silence is not
	// always a fault: MySQL sorts the whole result of a backup of the Kylin
	// 2.5-4.x layout before its first row (5 to 10 seconds for 100,000
	// resources, 690 MiB, on a loaded 2-CPU host).
	IOTimeoutFactor = 8
)

// timeouts returns the connect and I/O timeouts of the store: the Config's
// (an I/O timeout of IOTimeoutFactor times its connect timeout if it
// sets only that),
// else the JDBC URL's (connectTimeout and socketTimeout: seconds for
// PostgreSQL, milliseconds for MySQL and MariaDB, as their drivers read
// them), else the defaults.
func (c Config) timeouts(u JDBCURL) (connect, io time.Duration) {
	unit := time.Millisecond
	if u.Driver == Postgres {
		unit = time.Second
	}
	param := func(key string) time.Duration {
		if v, ok := u.Get(key); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				return time.Duration(n) * unit
			}
		}
		return 0
	}
	connect, io = c.ConnectTimeout, c.IOTimeout
	if io <= 0 && connect > 0 {
		io = IOTimeoutFactor * connect
	}
	if connect <= 0 {
		connect = param("connectTimeout")
	}
	if io <= 0 {
		io = param("socketTimeout")
	}
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	if io <= 0 {
		io = DefaultIOTimeout
	}
	return connect, io
}

// connect opens the pool and checks that it can log in.
func (s *Store) connect(ctx context.Context, u JDBCURL, pw string) error {
	s.connectTimeout, s.ioTimeout = s.cfg.timeouts(u)
	var err error
	switch u.Driver {
	case Postgres:
		err = s.connectPostgres(ctx, u, pw)
	default:
		err = s.connectMySQL(ctx, u, pw)
	}
	if err != nil {
		return err
	}
	s.db.SetMaxOpenConns(16)
	s.db.SetMaxIdleConns(4)
	s.db.SetConnMaxIdleTime(time.Minute)
	return nil
}

// dial connects to addr; the connection fails a read or write that waits
// for the server longer than the I/O timeout (see silentConn).
func (s *Store) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &silentConn{Conn: c, addr: addr, timeout: s.ioTimeout, silent: &s.silent}, nil
}

// connectPostgres translates the JDBC URL's settings into pgx's: sslmode (or
// ssl=true), ApplicationName, currentSchema, options, sslrootcert, sslcert,
// sslkey, targetServerType (connectTimeout and socketTimeout: see
// Config.timeouts). Other parameters are pgjdbc's own and are ignored.
func (s *Store) connectPostgres(ctx context.Context, u JDBCURL, pw string) error {
	q := url.Values{}
	q.Set("user", s.user)
	q.Set("application_name", "metastore")
	for _, p := range u.Params {
		switch strings.ToLower(p.Key) {
		case "sslmode":
			q.Set("sslmode", p.Value)
		case "ssl":
			if strings.EqualFold(p.Value, "true") && q.Get("sslmode") == "" {
				q.Set("sslmode", "require")
			}
		case "applicationname":
			q.Set("application_name", p.Value)
		case "currentschema":
			q.Set("search_path", p.Value)
		case "options":
			q.Set("options", p.Value)
		case "sslrootcert", "sslcert", "sslkey":
			q.Set(strings.ToLower(p.Key), p.Value)
		case "targetservertype":
			switch strings.ToLower(p.Value) {
			case "primary", "master":
				q.Set("target_session_attrs", "primary")
			case "secondary", "slave", "standby":
				q.Set("target_session_attrs", "standby")
			case "prefersecondary", "preferslave", "preferstandby":
				q.Set("target_session_attrs", "prefer-standby")
			}
		}
	}
	connURL := url.URL{Scheme: "postgres", Host: strings.Join(u.Hosts, ","), Path: "/" + u.Database, RawQuery: q.Encode()}
	pc, err := pgx.ParseConfig(connURL.String())
	if err != nil {
		return fmt.Errorf("jdbc: %w: url %s: %v", ErrConfig, MaskJDBCURL(s.cfg.URL), s.scrub(err.Error()))
	}
	pc.Password = pw
	pc.ConnectTimeout = s.connectTimeout // each connection: pgx bounds the dial and the login
	pc.DialFunc = s.dial
	s.db = stdlib.OpenDB(*pc)
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return s.translate(ctx, "connect", err)
	}
	return nil
}

// connectMySQL translates the JDBC URL's settings into go-sql-driver's:
// useSSL, requireSSL, sslMode, verifyServerCertificate (connectTimeout and
// socketTimeout: see Config.timeouts). Other parameters
// (characterEncoding, serverTimezone, ...) are Connector/J's own and are
// ignored: the connection always uses utf8mb4. With several hosts, the
// first that answers is used.
func (s *Store) connectMySQL(ctx context.Context, u JDBCURL, pw string) error {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.DBName = s.user, pw, "tcp", u.Database
	mc.InterpolateParams = true
	mc.MaxAllowedPacket = 0 // ask the server
	mc.Logger = quietLogger{}
	mc.TLSConfig = "preferred" // Connector/J 8's default
	verify := true
	for _, p := range u.Params {
		v := strings.ToLower(p.Value)
		switch strings.ToLower(p.Key) {
		case "usessl":
			if v == "false" {
				mc.TLSConfig = "false"
			}
		case "requiressl":
			if v == "true" {
				mc.TLSConfig = "true"
			}
		case "verifyservercertificate":
			verify = v != "false"
		case "sslmode":
			switch v {
			case "disabled":
				mc.TLSConfig = "false"
			case "preferred":
				mc.TLSConfig = "preferred"
			case "required":
				mc.TLSConfig = "skip-verify"
			case "verify_ca", "verify_identity":
				mc.TLSConfig = "true"
			}
		}
	}
	if mc.TLSConfig == "true" && !verify {
		mc.TLSConfig = "skip-verify"
	}
	// go-sql-driver bounds only the dial by Timeout: connector bounds the
	// login too, and dial the reads and writes once connected.
	mc.Timeout = s.connectTimeout
	mc.DialFunc = s.dial
	var firstErr error
	for _, h := range u.Hosts {
		mc.Addr = h
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return fmt.Errorf("jdbc: %w: url %s: %v", ErrConfig, MaskJDBCURL(s.cfg.URL), s.scrub(err.Error()))
		}
		db := sql.OpenDB(connector{Connector: conn, timeout: s.connectTimeout})
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			if firstErr == nil {
				firstErr = err
			}
			if ctx.Err() != nil || classify(err) != classUnreachable {
				break
			}
			continue
		}
		s.db = db
		return nil
	}
	return s.translate(ctx, "connect", firstErr)
}

// connector bounds each new connection, login included, by a timeout.
type connector struct {
	driver.Connector
	timeout time.Duration
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.Connector.Connect(ctx)
}

// quietLogger drops go-sql-driver's log lines (lost connections are
// reported as errors anyway).
type quietLogger struct{}

func (quietLogger) Print(...any) {}
