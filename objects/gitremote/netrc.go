package gitremote

import (
	"os"
	"strings"
)

// netrcLookup finds the login and password for host in a netrc file (the
// format curl and git's netrc helper read: "machine HOST login USER password
// PASS" tokens, "default" for any host, "macdef" blocks skipped). When user
// is given, only an entry with that login matches. A missing or unreadable
// file finds nothing.
func netrcLookup(path, host, user string) (login, password string, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", false
	}
	host = strings.Trim(host, "[]")
	type entry struct {
		machine, login, password string
		isDefault                bool
	}
	var entries []entry
	var cur *entry
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		for k := 0; k < len(f); k++ {
			next := func() string {
				if k+1 < len(f) {
					k++
					return f[k]
				}
				return ""
			}
			switch f[k] {
			case "machine":
				entries = append(entries, entry{machine: next()})
				cur = &entries[len(entries)-1]
			case "default":
				entries = append(entries, entry{isDefault: true})
				cur = &entries[len(entries)-1]
			case "login":
				if cur != nil {
					cur.login = next()
				}
			case "password":
				if cur != nil {
					cur.password = next()
				}
			case "macdef":
				// A macro runs to the next empty line.
				for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
					i++
				}
				k = len(f)
				cur = nil
			default:
				next()
			}
		}
	}
	for _, pass := range []bool{false, true} {
		for _, e := range entries {
			if e.isDefault != pass || (!pass && !strings.EqualFold(e.machine, host)) {
				continue
			}
			if e.password == "" || (user != "" && e.login != "" && e.login != user) {
				continue
			}
			l := e.login
			if l == "" {
				l = user
			}
			return l, e.password, true
		}
	}
	return "", "", false
}
