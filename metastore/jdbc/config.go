package jdbc

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
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
	// ConnectTimeout bounds connecting to the server and logging in, for
	// each new connection. If zero: the JDBC URL's connectTimeout (seconds
	// for PostgreSQL, milliseconds for MySQL and MariaDB), else
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// IOTimeout is how long a connected server may send nothing while the
	// store waits for it (an answer to a statement, the next rows of a
	// result, room to write): a statement may run for hours as long as
	// the server keeps answering. If zero: IOTimeoutFactor times
	// ConnectTimeout if that
	// is set, else the JDBC URL's socketTimeout (same units), else
	// DefaultIOTimeout.
	IOTimeout time.Duration
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
// jdbc:postgresql://[user[:password]@]host[:port][,host[:port]...]/database[?k=v&...],
// jdbc:postgresql:database[?k=v&...],
// jdbc:mysql://[user[:password]@]host[:port][,...]/database[?k=v&...],
// and the jdbc:mysql:loadbalance:, jdbc:mysql:replication: and
// jdbc:mariadb: variants. The user name and password before the hosts end
// at the last '@' before the first '/' or '?' after "//"; they and the
// parameters are percent-decoded. Parameters follow '?' or ';' and are
// separated by '&' or ';'. Its errors show the URL with the password
// masked, as MaskJDBCURL does.
func ParseJDBCURL(s string) (JDBCURL, error) {
	u, syn, problem := parseJDBCURL(s)
	if problem != "" {
		return JDBCURL{}, fmt.Errorf("%w: url %q%s", ErrConfig, maskSpans(s, syn.secretSpans(s, true)), problem)
	}
	return u, nil
}

// jdbcSyntax is where the parts of a JDBC URL lie that may hold a
// password, as byte ranges of the URL.
type jdbcSyntax struct {
	auth     int      // the index after "//", or -1
	password [2]int   // the password of user:password@, if any
	params   [][2]int // the parameters (key=value), in order
}

// parseJDBCURL parses a JDBC URL. problem says what is wrong with it, if
// anything; the syntax is filled in as far as it could be read either way.
func parseJDBCURL(s string) (u JDBCURL, syn jdbcSyntax, problem string) {
	syn.auth = -1
	a, b := 0, len(s)
	for a < b && isSpace(s[a]) {
		a++
	}
	for b > a && isSpace(s[b-1]) {
		b--
	}
	if !strings.HasPrefix(s[a:b], "jdbc:") {
		if i := strings.Index(s, "//"); i >= 0 {
			syn.auth = i + 2
		}
		return u, syn, " does not start with jdbc:"
	}
	p := a + len("jdbc:")
	var l urlLayout
	if i := strings.Index(s[p:b], "//"); i > 0 && isSubprotocol(s[p:p+i]) {
		u.Subprotocol = strings.TrimSuffix(s[p:p+i], ":")
		l = authority(s, p+i+2, b, &u, &syn)
	} else {
		// jdbc:postgresql:database
		name, _, ok := strings.Cut(s[p:b], ":")
		if !ok || name != "postgresql" {
			return u, syn, " is not jdbc:SUBPROTOCOL://host:port/database"
		}
		u.Subprotocol, l.hosts = "postgresql", "localhost"
		l.dbStart = p + len(name) + 1
		l.dbEnd = databaseEnd(s, l.dbStart, b)
		l.rest = l.dbEnd
	}
	for k := l.rest + 1; k < b; {
		e := k
		for e < b && s[e] != '&' && s[e] != ';' {
			e++
		}
		if e > k {
			syn.params = append(syn.params, [2]int{k, e})
		}
		k = e + 1
	}
	if problem := u.setHosts(l.hosts); problem != "" {
		return u, syn, problem
	}
	u.Database = unescape(s[l.dbStart:l.dbEnd])
	if u.Database == "" {
		return u, syn, fmt.Sprintf(" names no database (jdbc:%s://host:port/DATABASE)", u.Subprotocol)
	}
	for _, sp := range syn.params {
		k, v, _ := strings.Cut(s[sp[0]:sp[1]], "=")
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
	return u, syn, ""
}

// urlLayout is where the parts of a JDBC URL after the subprotocol lie.
type urlLayout struct {
	hosts          string // the host list
	dbStart, dbEnd int    // the database name
	rest           int    // where the parameters begin ('?' or ';')
}

// authority reads what follows "//" at auth, up to b: user:password@, the
// hosts, then the database.
func authority(s string, auth, b int, u *JDBCURL, syn *jdbcSyntax) urlLayout {
	l := urlLayout{dbStart: b, dbEnd: b, rest: b}
	syn.auth = auth
	end := auth
	for end < b && s[end] != '/' && s[end] != '?' {
		end++
	}
	hosts := auth
	if at := strings.LastIndexByte(s[auth:end], '@'); at >= 0 {
		at += auth
		user, pw, hasPW := strings.Cut(s[auth:at], ":")
		u.User = unescape(user)
		if hasPW {
			syn.password = [2]int{auth + len(user) + 1, at}
			u.Password, u.HasPassword = unescape(pw), true
		}
		hosts = at + 1
	}
	hostEnd := hosts
	for hostEnd < end && s[hostEnd] != ';' {
		hostEnd++
	}
	l.hosts = s[hosts:hostEnd]
	switch {
	case hostEnd < end: // host;key=value...: no database
		l.rest = hostEnd
	case end < b && s[end] == '/':
		l.dbStart = end + 1
		l.dbEnd = databaseEnd(s, l.dbStart, b)
		l.rest = l.dbEnd
	default:
		l.rest = end
	}
	return l
}

// databaseEnd returns where the database name starting at i ends.
func databaseEnd(s string, i, b int) int {
	for i < b && s[i] != '?' && s[i] != ';' {
		i++
	}
	return i
}

// setHosts sets the driver from the subprotocol and the hosts, each with
// its port (the driver's default if none); it returns what is wrong.
func (u *JDBCURL) setHosts(hostPart string) (problem string) {
	var defPort string
	switch u.Subprotocol {
	case "postgresql", "pgsql":
		u.Driver, defPort = Postgres, "5432"
	case "mysql", "mysql:loadbalance", "mysql:replication", "mysql:failover", "mariadb", "mariadb:loadbalance", "mariadb:replication", "mariadb:failover", "mariadb:sequential", "mariadb:aurora":
		u.Driver, defPort = MySQL, "3306"
	default:
		return fmt.Sprintf(": JDBC subprotocol %q is not supported (PostgreSQL, MySQL and MariaDB are)", u.Subprotocol)
	}
	if strings.Contains(hostPart, "(") {
		return ": address=(...) host specifications are not supported; write host:port"
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
			return " has a bad host:port (a port is a number up to 65535; a user name or password with '/' or '?' is written %2F or %3F)"
		}
		u.Hosts = append(u.Hosts, net.JoinHostPort(host, port))
	}
	return ""
}

// isSubprotocol reports whether s can be what lies between "jdbc:" and
// "//": letters, digits and colons.
func isSubprotocol(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':') {
			return false
		}
	}
	return s != ""
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// unescape decodes a JDBC URL component the way the JDBC drivers'
// URLDecoder does, and leaves it as it is if it is not valid.
func unescape(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}

// passwordParamRE finds a password parameter wherever it is in a JDBC URL,
// for URLs whose parameters could not be told apart.
var passwordParamRE = regexp.MustCompile(`(?i)password=`)

// secretSpans returns the byte ranges of s that hold a password: where
// parseJDBCURL found one (the password of user:password@, the values of
// password parameters, their names percent-decoded), the value after any
// "password=" up to '&' or ';', and, for a URL that does not parse
// (broken), everything between the first ':' after "//" and the last '@'.
func (syn jdbcSyntax) secretSpans(s string, broken bool) [][2]int {
	var spans [][2]int
	if syn.password[1] > syn.password[0] {
		spans = append(spans, syn.password)
	}
	for _, p := range syn.params {
		if k, _, ok := strings.Cut(s[p[0]:p[1]], "="); ok && strings.EqualFold(unescape(k), "password") {
			spans = append(spans, [2]int{p[0] + len(k) + 1, p[1]})
		}
	}
	for _, m := range passwordParamRE.FindAllStringIndex(s, -1) {
		e := m[1]
		for e < len(s) && s[e] != '&' && s[e] != ';' {
			e++
		}
		spans = append(spans, [2]int{m[1], e})
	}
	if broken && syn.auth >= 0 && syn.auth <= len(s) {
		tail := s[syn.auth:]
		if at := strings.LastIndexByte(tail, '@'); at >= 0 {
			if c := strings.IndexByte(tail[:at], ':'); c >= 0 {
				spans = append(spans, [2]int{syn.auth + c + 1, syn.auth + at})
			}
		}
	}
	return spans
}

// PasswordSpans returns the byte ranges of JDBC URL s that MaskJDBCURL
// hides.
func PasswordSpans(s string) [][2]int {
	_, syn, problem := parseJDBCURL(s)
	return syn.secretSpans(s, problem != "")
}

// MaskJDBCURL returns the JDBC URL with every password in it replaced by
// ***: where ParseJDBCURL finds one (the password of user:password@ before
// the hosts, the value of a password parameter, its name percent-decoded,
// any case, up to '&' or ';'), the value after any "password=", and for a
// URL ParseJDBCURL refuses, everything between the first ':' after "//" and
// the last '@', which may be a password it could not tell apart.
func MaskJDBCURL(s string) string {
	return maskSpans(s, PasswordSpans(s))
}

// secretTexts returns the passwords in JDBC URL s, as written and decoded,
// to scrub from messages.
func secretTexts(s string) []string {
	var out []string
	for _, sp := range PasswordSpans(s) {
		v := s[sp[0]:sp[1]]
		out = append(out, v, unescape(v))
	}
	return out
}

// maskSpans replaces each of the byte ranges spans of s with ***; ranges
// that overlap or touch are hidden as one.
func maskSpans(s string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	at := 0
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] <= end; i++ {
			end = max(end, spans[i][1])
		}
		if start < at {
			start = at
		}
		if end <= start {
			continue
		}
		b.WriteString(s[at:start])
		b.WriteString("***")
		at = end
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

// Login returns the user name and password Open logs in with: those the
// JDBC URL carries (user:password@host, or user and password parameters),
// else username and password, decrypted.
func (c Config) Login() (user, password string, err error) {
	u, err := ParseJDBCURL(c.URL)
	if err != nil {
		return "", "", err
	}
	pw, err := c.password(u)
	if err != nil {
		return "", "", err
	}
	return c.user(u), pw, nil
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
