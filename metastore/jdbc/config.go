package jdbc

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultIdentifier is Kylin's default metadata identifier, the name of the
// metastore's table.
const DefaultIdentifier = "kylin_metadata"

// Param is one key=value of a Kylin metadata URL, after the scheme.
type Param struct{ Key, Value string }

// Schema names one of Kylin's two database layouts.
type Schema string

// The layouts Open knows.
const (
	// SchemaAuto lets Open detect the layout.
	SchemaAuto Schema = ""
	// Schema4 is the layout of Kylin 2.5 to 4.x and Kyligence Enterprise 3.x:
	// tables IDENTIFIER and IDENTIFIER_log with META_TABLE_KEY,
	// META_TABLE_TS and META_TABLE_CONTENT.
	Schema4 Schema = "4"
	// Schema5 is the layout of Kylin 5.x: table IDENTIFIER with
	// META_TABLE_KEY, META_TABLE_CONTENT, META_TABLE_TS and META_TABLE_MVCC.
	Schema5 Schema = "5"
)

// ParseSchema parses "4" or "5" (also "4.x", "kylin4", "5.x", "kylin5"), and
// "" or "auto" for SchemaAuto.
func ParseSchema(s string) (Schema, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return SchemaAuto, nil
	case "4", "4.x", "kylin4", "3", "3.x", "kylin3":
		return Schema4, nil
	case "5", "5.x", "kylin5":
		return Schema5, nil
	}
	return "", fmt.Errorf("%w: schema %q: want 4 (Kylin 2.5-4.x) or 5 (Kylin 5.x)", ErrConfig, s)
}

// String names the layout for humans.
func (s Schema) String() string {
	switch s {
	case Schema4:
		return "Kylin 2.5-4.x"
	case Schema5:
		return "Kylin 5.x"
	}
	return "auto"
}

// Driver is a database family.
type Driver string

// The database families Open connects to.
const (
	// Postgres is PostgreSQL, reached through jackc/pgx.
	Postgres Driver = "postgres"
	// MySQL is MySQL or MariaDB, reached through go-sql-driver/mysql.
	MySQL Driver = "mysql"
)

// Config says which metastore Open connects to. The zero value is not
// usable: URL is required.
type Config struct {
	// Identifier is the metastore's name before the '@' in Kylin's metadata
	// URL: the name of its table. DefaultIdentifier if empty.
	Identifier string
	// URL is the JDBC URL: jdbc:postgresql://host:5432/db,
	// jdbc:mysql://host:3306/db or jdbc:mariadb://host:3306/db, with
	// several hosts separated by commas and parameters after '?'. A user or
	// password parameter in the URL takes precedence over Username and
	// Password, as the JDBC drivers have it.
	URL string
	// Username and Password log in. Password may be Kylin 5's ENC('...')
	// form, or, with PasswordEncrypted, the form Kylin 2.x-4.x's
	// passwordEncrypted=true means.
	Username, Password string
	// PasswordEncrypted says Password is encrypted with Kylin's EncryptUtil
	// (kylin.metadata.url's passwordEncrypted=true).
	PasswordEncrypted bool
	// CipherIV is kylin.security.encrypt.cipher.ivSpec, the IV Kylin 3.x and
	// 4.x encrypt passwords with; Kylin's default if empty.
	CipherIV string
	// DriverClassName is the JDBC driver Kylin names, if any; Open checks it
	// agrees with URL.
	DriverClassName string
	// HDFSRoot is a local folder holding a copy of Kylin's HDFS working
	// directory (kylin.env.hdfs-working-dir), where Kylin 2.5-4.x push big
	// resources: the content of key K is read from
	// HDFSRoot/IDENTIFIER/resources-jdbc/K, or from HDFSRoot/resources-jdbc/K
	// when HDFSRoot is the metastore's own folder or
	// kylin.env.hdfs-metastore-bigcell-dir. Empty: such resources are
	// reported with metastore.ErrContentElsewhere.
	HDFSRoot string
	// Schema, when set, is the layout the database must hold; Open refuses
	// the other one.
	Schema Schema
	// CreateSchema, when set, makes Open create the tables of that layout if
	// the database holds neither (restoring into a fresh database).
	CreateSchema Schema
	// ConnectTimeout bounds each connection attempt; 10 seconds if zero.
	ConnectTimeout time.Duration
}

// ErrConfig is wrapped by errors about a metadata URL or Config that cannot
// work: no url, an unknown JDBC subprotocol, a driver class that disagrees
// with the URL, a password that cannot be decrypted.
var ErrConfig = errors.New("invalid JDBC metastore settings")

// ConfigFromParams builds a Config from a Kylin metadata URL's identifier and
// parameters (IDENTIFIER@jdbc,url=...,username=...,password=...): url,
// username (or user), password, passwordEncrypted and driverClassName. The
// connection-pool settings Kylin passes to DBCP (maxActive, maxIdle,
// maxWait, ...) and any other parameter are ignored. A later parameter
// overrides an earlier one of the same key, as in Kylin. Values are taken
// as given: the caller strips Kylin 5's quotes.
func ConfigFromParams(identifier string, params []Param) (Config, error) {
	c := Config{Identifier: strings.TrimSpace(identifier)}
	for _, p := range params {
		switch strings.TrimSpace(p.Key) {
		case "url":
			c.URL = strings.TrimSpace(p.Value)
		case "username", "user":
			c.Username = p.Value
		case "password":
			c.Password = p.Value
		case "passwordEncrypted":
			c.PasswordEncrypted = strings.EqualFold(strings.TrimSpace(p.Value), "true")
		case "driverClassName":
			c.DriverClassName = strings.TrimSpace(p.Value)
		}
	}
	if c.URL == "" {
		return c, fmt.Errorf("%w: %s@jdbc has no url= parameter (the JDBC URL, such as url=jdbc:mysql://host:3306/kylin)", ErrConfig, c.identifier())
	}
	if _, err := ParseJDBCURL(c.URL); err != nil {
		return c, err
	}
	return c, nil
}

func (c Config) identifier() string {
	if c.Identifier == "" {
		return DefaultIdentifier
	}
	return c.Identifier
}

// JDBCURL is a parsed JDBC URL.
type JDBCURL struct {
	// Driver is the database family the URL's subprotocol names.
	Driver Driver
	// Subprotocol is what follows "jdbc:": "postgresql", "mysql",
	// "mysql:loadbalance", "mariadb"...
	Subprotocol string
	// Hosts are host:port pairs, the default port filled in. IPv6 hosts are
	// in brackets.
	Hosts []string
	// Database is the database name.
	Database string
	// Params are the parameters after '?', in order, with the user and
	// password parameters taken out.
	Params []Param
	// User and Password come from the URL's user and password parameters
	// or, for MySQL, from user:password@ before the host; empty if absent.
	User, Password string
	// HasPassword says the URL itself carries a password.
	HasPassword bool
}

// Get returns the value of the last parameter named key (case-insensitive)
// and whether there is one.
func (u JDBCURL) Get(key string) (string, bool) {
	v, ok := "", false
	for _, p := range u.Params {
		if strings.EqualFold(p.Key, key) {
			v, ok = p.Value, true
		}
	}
	return v, ok
}

// ParseJDBCURL parses a PostgreSQL, MySQL or MariaDB JDBC URL:
// jdbc:postgresql://host[:port][,host[:port]...]/database[?k=v&...],
// jdbc:postgresql:database, jdbc:mysql://[user[:password]@]host[:port][,...]/database[?k=v&...],
// and the jdbc:mysql:loadbalance:, jdbc:mysql:replication: and
// jdbc:mariadb: variants.
func ParseJDBCURL(s string) (JDBCURL, error) {
	var u JDBCURL
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "jdbc:")
	if !ok {
		return u, fmt.Errorf("%w: url %q does not start with jdbc:", ErrConfig, MaskJDBCURL(s))
	}
	sub, tail, hasSlashes := strings.Cut(rest, "//")
	if !hasSlashes {
		// jdbc:postgresql:database
		name, db, ok := strings.Cut(rest, ":")
		if !ok || name != "postgresql" {
			return u, fmt.Errorf("%w: url %q: expected jdbc:SUBPROTOCOL://host:port/database", ErrConfig, MaskJDBCURL(s))
		}
		sub, tail = "postgresql:", "localhost/"+db
	}
	u.Subprotocol = strings.TrimSuffix(sub, ":")
	var defPort string
	switch u.Subprotocol {
	case "postgresql", "pgsql":
		u.Driver, defPort = Postgres, "5432"
	case "mysql", "mysql:loadbalance", "mysql:replication", "mysql:failover", "mariadb", "mariadb:loadbalance", "mariadb:replication", "mariadb:failover", "mariadb:sequential", "mariadb:aurora":
		u.Driver, defPort = MySQL, "3306"
	default:
		return u, fmt.Errorf("%w: url %q: JDBC subprotocol %q is not supported (PostgreSQL, MySQL and MariaDB are)", ErrConfig, MaskJDBCURL(s), u.Subprotocol)
	}
	hostPart, query, _ := strings.Cut(tail, "?")
	hostPart, u.Database, _ = strings.Cut(hostPart, "/")
	if i := strings.LastIndexByte(hostPart, '@'); i >= 0 && u.Driver == MySQL {
		info := hostPart[:i]
		hostPart = hostPart[i+1:]
		user, pw, hasPW := strings.Cut(info, ":")
		u.User = unescape(user)
		if hasPW {
			u.Password, u.HasPassword = unescape(pw), true
		}
	}
	if strings.Contains(hostPart, "(") {
		return u, fmt.Errorf("%w: url %q: address=(...) host specifications are not supported; write host:port", ErrConfig, MaskJDBCURL(s))
	}
	if hostPart == "" {
		hostPart = "localhost"
	}
	for _, h := range strings.Split(hostPart, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			// No port (or a bare IPv6 address).
			host, port = strings.Trim(h, "[]"), defPort
		}
		if port == "" {
			port = defPort
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return u, fmt.Errorf("%w: url %q: bad port %q", ErrConfig, MaskJDBCURL(s), port)
		}
		u.Hosts = append(u.Hosts, net.JoinHostPort(host, port))
	}
	u.Database = unescape(u.Database)
	if u.Database == "" {
		return u, fmt.Errorf("%w: url %q names no database (jdbc:%s://host:port/DATABASE)", ErrConfig, MaskJDBCURL(s), u.Subprotocol)
	}
	for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(kv, "=")
		k, v = unescape(k), unescape(v)
		switch strings.ToLower(k) {
		case "user":
			u.User = v
		case "password":
			u.Password, u.HasPassword = v, true
		default:
			u.Params = append(u.Params, Param{Key: k, Value: v})
		}
	}
	return u, nil
}

// unescape decodes a JDBC URL component the way the JDBC drivers'
// URLDecoder does, and leaves it as it is if it is not valid.
func unescape(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}

// MaskJDBCURL returns the JDBC URL with every password in it replaced by
// ***, exactly where ParseJDBCURL finds one: the value of a password
// parameter (its name percent-decoded, any case, up to '&' or ';'), and the
// password of user:password@ before the host.
func MaskJDBCURL(s string) string {
	var spans [][2]int
	if i := strings.Index(s, "//"); i >= 0 {
		host := i + 2
		end := host
		for end < len(s) && s[end] != '/' && s[end] != '?' {
			end++
		}
		if at := strings.LastIndexByte(s[host:end], '@'); at >= 0 {
			if c := strings.IndexByte(s[host:host+at], ':'); c >= 0 {
				spans = append(spans, [2]int{host + c + 1, host + at})
			}
		}
	}
	if q := strings.IndexByte(s, '?'); q >= 0 {
		for k := q + 1; k < len(s); {
			e := k
			for e < len(s) && s[e] != '&' && s[e] != ';' {
				e++
			}
			if key, _, ok := strings.Cut(s[k:e], "="); ok && strings.EqualFold(unescape(key), "password") {
				spans = append(spans, [2]int{k + len(key) + 1, e})
			}
			k = e + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		sp[0] = max(sp[0], at)
		if sp[1] <= at {
			continue
		}
		b.WriteString(s[at:sp[0]])
		b.WriteString("***")
		at = sp[1]
	}
	b.WriteString(s[at:])
	return b.String()
}

// Describe returns the metadata URL of c in Kylin's syntax, password masked:
// kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:5432/kylin,username=kylin,password=***.
func (c Config) Describe() string {
	u := MaskJDBCURL(c.URL)
	if strings.Contains(u, ",") {
		u = `"` + u + `"`
	}
	return c.identifier() + "@jdbc,url=" + u + ",username=" + c.Username + ",password=***"
}

// password returns the password to log in with, decrypted.
func (c Config) password(u JDBCURL) (string, error) {
	if u.HasPassword {
		return u.Password, nil
	}
	pw := c.Password
	switch {
	case isKylin5Encrypted(pw):
		dec, err := DecryptPassword(pw, c.CipherIV)
		if err != nil {
			return "", fmt.Errorf("%w: password=ENC('...') cannot be decrypted: %v", ErrConfig, err)
		}
		return dec, nil
	case c.PasswordEncrypted:
		dec, err := DecryptPassword(pw, c.CipherIV)
		if err != nil {
			return "", fmt.Errorf("%w: passwordEncrypted=true but the password cannot be decrypted with Kylin's key: %v", ErrConfig, err)
		}
		return dec, nil
	}
	return pw, nil
}

// user returns the user name to log in with.
func (c Config) user(u JDBCURL) string {
	switch {
	case u.User != "":
		return u.User
	case c.Username != "":
		return c.Username
	case u.Driver == Postgres:
		return "postgres" // Kylin 5's default
	}
	return ""
}

// checkDriverClass checks that Kylin's driverClassName, if any, names a
// driver of the URL's database family.
func (c Config) checkDriverClass(u JDBCURL) error {
	dc := c.DriverClassName
	if dc == "" {
		return nil
	}
	var want Driver
	switch dc {
	case "org.postgresql.Driver":
		want = Postgres
	case "com.mysql.jdbc.Driver", "com.mysql.cj.jdbc.Driver", "org.mariadb.jdbc.Driver", "org.gjt.mm.mysql.Driver":
		want = MySQL
	default:
		return fmt.Errorf("%w: driverClassName %q is not a PostgreSQL, MySQL or MariaDB driver", ErrConfig, dc)
	}
	if want != u.Driver {
		return fmt.Errorf("%w: driverClassName %s does not match url %s", ErrConfig, dc, MaskJDBCURL(c.URL))
	}
	return nil
}
