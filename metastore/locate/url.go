package locate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/jdbc"
)

// URL is a parsed Kylin metadata URL: IDENTIFIER@SCHEME,key=value,... or a
// plain folder path.
type URL struct {
	// Identifier is the part before the scheme's '@' (the table name for
	// JDBC metastores; kylin_metadata by default).
	Identifier string
	// Scheme is "jdbc", "hbase", "hdfs"... or "" for a folder path.
	Scheme string
	// Params are the key=value pairs after the scheme, in order.
	Params []Param
	// Path is the folder of a folder metastore.
	Path string

	masked string // for a parsed URL, Mask of the text parsed: what String prints
}

// Param is one key=value of a metadata URL.
type Param struct{ Key, Value string }

// Get returns the value of key ("" if absent).
func (u URL) Get(key string) string {
	for _, p := range u.Params {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// DefaultIdentifier is Kylin's default metadata identifier.
const DefaultIdentifier = "kylin_metadata"

// ErrUnsupported means the metadata URL names a kind of metastore this tool
// cannot open.
var ErrUnsupported = errors.New("unsupported metastore")

var schemeRE = regexp.MustCompile(`^(jdbc|hbase|hdfs|s3|file|ofs|obs)(,|$)`)

// ParseURL parses a Kylin metadata URL. The identifier ends at the '@' that
// precedes a known scheme, so a password containing '@' does not confuse
// it; values may be double- or single-quoted (Kylin 5), which allows commas
// inside. A URL whose quotes do not pair up is split at every comma, as
// Kylin 2.x-4.x do.
func ParseURL(s string) (URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return URL{}, fmt.Errorf("%w: empty metadata URL", ErrUnsupported)
	}
	cut := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '@' && schemeRE.MatchString(s[i+1:]) {
			cut = i
			break
		}
	}
	if cut < 0 {
		if strings.HasPrefix(s, "file://") {
			u, err := url.Parse(s)
			if err != nil {
				return URL{}, fmt.Errorf("metadata URL %q: %w", s, err)
			}
			return URL{Path: u.Path}, nil
		}
		if strings.Contains(s, "@") {
			return URL{}, fmt.Errorf("%w: metadata URL %q has an unknown scheme after '@'", ErrUnsupported, Mask(s))
		}
		return URL{Path: s}, nil
	}
	u := URL{Identifier: s[:cut], masked: Mask(s)}
	if u.Identifier == "" {
		u.Identifier = DefaultIdentifier
	}
	parts, err := splitParams(s[cut+1:])
	if err != nil {
		return URL{}, fmt.Errorf("metadata URL %q: %w", Mask(s), err)
	}
	u.Scheme = parts[0]
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			// Its text may be the rest of a password with a comma in it.
			return URL{}, fmt.Errorf("metadata URL %q: parameter %d after the scheme is not key=value (a comma inside a value? quote the value: password=\"a,b\")", Mask(s), len(u.Params)+1)
		}
		u.Params = append(u.Params, Param{Key: strings.TrimSpace(k), Value: unquote(strings.TrimSpace(v))})
	}
	return u, nil
}

// splitParams splits on commas outside quotes (Kylin 5's StorageURL), or at
// every comma if the quotes do not pair up (Kylin 2.x-4.x's).
func splitParams(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
			cur.WriteByte(c)
		case c == quote:
			quote = 0
			cur.WriteByte(c)
		case c == ',' && quote == 0:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if quote != 0 {
		return strings.Split(s, ","), nil
	}
	out = append(out, cur.String())
	return out, nil
}

// unquote strips the quotes around a value: double or single, as Kylin 5
// does.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

var (
	passwordRE = regexp.MustCompile(`(?i)((?:^|,)\s*password\s*=\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|ENC\('[^']*'\)|[^,]*)`)
	// A password inside a JDBC URL: ?password=... or user:password@host.
	urlPasswordRE = regexp.MustCompile(`(?i)([?&;]password=)[^&;,"']*`)
	userinfoRE    = regexp.MustCompile(`(jdbc:[A-Za-z:]+//[^/@?,"']*?:)[^/@?,"']*@`)
)

// Mask returns the metadata URL with any password replaced by ***: the
// password parameter (plain, quoted or ENC('...')), and a password inside
// the JDBC URL (?password=... or user:password@host), wherever the parsers
// or these regular expressions find them (see secretSpans).
func Mask(s string) string {
	return maskSpans(s, secretSpans(s))
}

// String returns the URL in Kylin's syntax with the password masked: for a
// URL ParseURL returned, the text it parsed as Mask prints it (a password
// spread over several parameters by unpaired quotes stays hidden).
func (u URL) String() string {
	if u.Scheme == "" {
		return u.Path
	}
	if u.masked != "" {
		return u.masked
	}
	var b strings.Builder
	b.WriteString(u.Identifier + "@" + u.Scheme)
	for _, p := range u.Params {
		v := p.Value
		if strings.EqualFold(p.Key, "password") {
			v = "***"
		} else {
			v = Mask(v)
			if strings.Contains(v, ",") {
				v = `"` + v + `"`
			}
		}
		b.WriteString("," + p.Key + "=" + v)
	}
	return b.String()
}

// Open opens the metastore a metadata URL names. A folder must exist and be a
// directory unless create is set (restoring into a fresh metastore). It is
// OpenWith with only Options.Create.
func Open(ctx context.Context, raw string, create bool) (metastore.Store, error) {
	return OpenWith(ctx, raw, Options{Create: create})
}

// Options say how OpenWith opens a metastore.
type Options struct {
	// Create makes a missing folder metastore (restoring into a fresh
	// metastore).
	Create bool
	// CreateSchema, for a JDBC metastore whose database holds no metastore
	// tables yet, is the layout to create them in: "4" (Kylin 2.5-4.x) or
	// "5" (Kylin 5.x). Empty: such a database is refused.
	CreateSchema string
	// HDFSRoot is, for a Kylin 2.5-4.x JDBC metastore, a local copy of
	// kylin.env.hdfs-working-dir, where Kylin pushed big resources (see
	// jdbc.Config.HDFSRoot).
	HDFSRoot string
	// CipherIV is kylin.security.encrypt.cipher.ivSpec, for a password
	// encrypted by Kylin 3.x-4.x (passwordEncrypted=true); Kylin's default
	// if empty.
	CipherIV string
	// Timeout, for a JDBC metastore, bounds connecting to the database and
	// logging in; a connected server may stay silent 8 times as long (see
	// jdbc.Config.ConnectTimeout and IOTimeout). Zero: the JDBC URL's
	// connectTimeout and socketTimeout, else jdbc.DefaultConnectTimeout and
	// jdbc.DefaultIOTimeout.
	Timeout time.Duration
}

// JDBCConfig returns the jdbc.Config of a JDBC metadata URL
// (IDENTIFIER@jdbc,url=...,username=...,password=...).
func (u URL) JDBCConfig() (jdbc.Config, error) {
	params := make([]jdbc.Param, len(u.Params))
	for i, p := range u.Params {
		params[i] = jdbc.Param{Key: p.Key, Value: p.Value}
	}
	return jdbc.ConfigFromParams(u.Identifier, params)
}

// OpenWith opens the metastore a metadata URL names: a folder, or a JDBC
// metastore (IDENTIFIER@jdbc,url=jdbc:postgresql|mysql|mariadb://...,
// username=...,password=...) through package jdbc. A JDBC store holds
// connections: close it with metastore.Closer.
func OpenWith(ctx context.Context, raw string, opt Options) (metastore.Store, error) {
	u, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "":
		if opt.Create {
			return folder.Create(u.Path)
		}
		return folder.Open(u.Path)
	case "jdbc":
		cfg, err := u.JDBCConfig()
		if err != nil {
			return nil, err
		}
		cfg.HDFSRoot, cfg.CipherIV, cfg.ConnectTimeout = opt.HDFSRoot, opt.CipherIV, opt.Timeout
		if opt.CreateSchema != "" {
			if cfg.CreateSchema, err = jdbc.ParseSchema(opt.CreateSchema); err != nil {
				return nil, err
			}
		}
		return jdbc.Open(ctx, cfg)
	case "hbase":
		return nil, fmt.Errorf("%w: %s is an HBase metastore; export it with Kylin's metastore.sh backup and import the folder", ErrUnsupported, u)
	}
	return nil, fmt.Errorf("%w: scheme %q in %s", ErrUnsupported, u.Scheme, u)
}
