package jdbc

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// defaultConnectTimeout bounds a connection attempt when the Config and the
// URL do not.
const defaultConnectTimeout = 10 * time.Second

// connect opens the pool and checks that it can log in.
func (s *Store) connect(ctx context.Context, u JDBCURL, pw string) error {
	timeout := s.cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	var err error
	switch u.Driver {
	case Postgres:
		err = s.connectPostgres(ctx, u, pw, timeout)
	default:
		err = s.connectMySQL(ctx, u, pw, timeout)
	}
	if err != nil {
		return err
	}
	s.db.SetMaxOpenConns(16)
	s.db.SetMaxIdleConns(4)
	s.db.SetConnMaxIdleTime(time.Minute)
	return nil
}

// connectPostgres translates the JDBC URL's settings into pgx's: sslmode (or
// ssl=true), connectTimeout (seconds), ApplicationName, currentSchema,
// options, sslrootcert, sslcert, sslkey, targetServerType. Other parameters
// are pgjdbc's own and are ignored.
func (s *Store) connectPostgres(ctx context.Context, u JDBCURL, pw string, timeout time.Duration) error {
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
		case "connecttimeout":
			if n, err := strconv.Atoi(p.Value); err == nil && n > 0 {
				timeout = time.Duration(n) * time.Second
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
	pc.ConnectTimeout = timeout
	s.db = stdlib.OpenDB(*pc)
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return s.translate(ctx, "connect", err)
	}
	return nil
}

// connectMySQL translates the JDBC URL's settings into go-sql-driver's:
// useSSL, requireSSL, sslMode, verifyServerCertificate, connectTimeout and
// socketTimeout (milliseconds). Other parameters (characterEncoding,
// serverTimezone, ...) are Connector/J's own and are ignored: the
// connection always uses utf8mb4. With several hosts, the first that
// answers is used.
func (s *Store) connectMySQL(ctx context.Context, u JDBCURL, pw string, timeout time.Duration) error {
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
		case "connecttimeout":
			if n, err := strconv.Atoi(p.Value); err == nil && n > 0 {
				timeout = time.Duration(n) * time.Millisecond
			}
		case "sockettimeout":
			if n, err := strconv.Atoi(p.Value); err == nil && n > 0 {
				mc.ReadTimeout = time.Duration(n) * time.Millisecond
				mc.WriteTimeout = mc.ReadTimeout
			}
		}
	}
	if mc.TLSConfig == "true" && !verify {
		mc.TLSConfig = "skip-verify"
	}
	mc.Timeout = timeout
	var firstErr error
	for _, h := range u.Hosts {
		mc.Addr = h
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return fmt.Errorf("jdbc: %w: url %s: %v", ErrConfig, MaskJDBCURL(s.cfg.URL), s.scrub(err.Error()))
		}
		db := sql.OpenDB(conn)
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

// quietLogger drops go-sql-driver's log lines (lost connections are
// reported as errors anyway).
type quietLogger struct{}

func (quietLogger) Print(...any) {}
