package locate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ParseProperties reads a Java .properties file: "key=value", "key: value"
// or "key value" lines, '#' and '!' comments, backslash line continuations
// and \t \n \uXXXX escapes. Later keys override earlier ones.
func ParseProperties(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	var logical strings.Builder
	cont := false
	for sc.Scan() {
		line := sc.Text()
		if cont {
			line = strings.TrimLeft(line, " \t\f")
		} else {
			t := strings.TrimLeft(line, " \t\f")
			if t == "" || t[0] == '#' || t[0] == '!' {
				continue
			}
			line = t
		}
		// An odd number of trailing backslashes continues the line.
		n := 0
		for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
			n++
		}
		if n%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			cont = true
			continue
		}
		logical.WriteString(line)
		cont = false
		k, v, err := splitProperty(logical.String())
		logical.Reset()
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	if cont {
		k, v, err := splitProperty(logical.String())
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, sc.Err()
}

func splitProperty(s string) (string, string, error) {
	// The key ends at the first unescaped '=', ':' or whitespace.
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i > len(s) {
		i = len(s)
	}
	key := s[:i]
	rest := strings.TrimLeft(s[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	k, err := unescape(key)
	if err != nil {
		return "", "", err
	}
	v, err := unescape(rest)
	if err != nil {
		return "", "", fmt.Errorf("property %s: %w", k, err)
	}
	return k, v, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i == len(s)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", errors.New(`malformed \u escape`)
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", errors.New(`malformed \u escape`)
			}
			b.WriteRune(rune(n))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// Env gives the environment variables locate reads; os.Getenv in
// production, a map in tests.
type Env func(key string) string

// MetadataURLKey is the Kylin property naming the metastore.
const MetadataURLKey = "kylin.metadata.url"

// ErrNoMetadataURL means no flag, variable or kylin.properties named the
// metastore.
var ErrNoMetadataURL = errors.New("no metastore given")

// KylinProperties reads Kylin's configuration the way Kylin does:
// $KYLIN_CONF/kylin.properties if KYLIN_CONF is set, else
// $KYLIN_HOME/conf/kylin.properties, with kylin.properties.override beside
// it taking precedence. It returns the merged properties and the folder
// read; with neither variable set it fails with ErrNoMetadataURL.
func KylinProperties(env Env) (map[string]string, string, error) {
	var dir string
	switch {
	case env("KYLIN_CONF") != "":
		dir = env("KYLIN_CONF")
	case env("KYLIN_HOME") != "":
		dir = filepath.Join(env("KYLIN_HOME"), "conf")
	default:
		return nil, "", fmt.Errorf("%w: set --metadata-url (or METASTORE_METADATA_URL), or KYLIN_HOME (or KYLIN_CONF) so that kylin.metadata.url is read from kylin.properties", ErrNoMetadataURL)
	}
	props := map[string]string{}
	for _, name := range []string{"kylin.properties", "kylin.properties.override"} {
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, dir, fmt.Errorf("read %s: %w", p, err)
		}
		m, err := ParseProperties(f)
		f.Close()
		if err != nil {
			return nil, dir, fmt.Errorf("read %s: %w", p, err)
		}
		for k, v := range m {
			props[k] = v
		}
	}
	return props, dir, nil
}

// CipherIVKey is the Kylin 3.x-4.x property holding the IV of encrypted
// passwords.
const CipherIVKey = "kylin.security.encrypt.cipher.ivSpec"

// MetadataURL finds kylin.metadata.url in Kylin's configuration (see
// KylinProperties) and returns it with the folder it came from. A relative
// folder path is taken relative to KYLIN_HOME.
func MetadataURL(env Env) (url, from string, err error) {
	props, dir, err := KylinProperties(env)
	if err != nil {
		return "", "", err
	}
	v := strings.TrimSpace(props[MetadataURLKey])
	if v == "" {
		return "", "", fmt.Errorf("%w: %s not set in %s/kylin.properties; set --metadata-url or METASTORE_METADATA_URL", ErrNoMetadataURL, MetadataURLKey, dir)
	}
	if !strings.Contains(v, "@") && !strings.Contains(v, "://") && !filepath.IsAbs(v) && env("KYLIN_HOME") != "" {
		v = filepath.Join(env("KYLIN_HOME"), v)
	}
	return v, dir, nil
}
