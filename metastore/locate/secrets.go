package locate

import (
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/metastore/jdbc"
)

// secretSpans returns the byte ranges of s that hold a password, however
// metadata URL s is read: where the parsers find it (the value of a
// password= parameter, split as ParseURL splits, quotes pairing up across
// commas; in a JDBC URL the password parameter up to '&' or ';' and the
// password of user:password@, as jdbc.ParseJDBCURL reads them), and where
// the regular expressions of Mask find it (what the user most likely meant
// when quotes do not pair up). The regular expressions alone cannot know
// where a quoted value ends, and left the rest of a password with a quote
// or a comma in it visible; the parsers alone would show what a malformed
// URL meant as its password.
func secretSpans(s string) [][2]int {
	var spans [][2]int
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '@' && schemeRE.MatchString(s[i+1:]) {
			start = i + 1
			break
		}
	}
	params := paramSpans(s, start)
	if start == 0 && strings.HasPrefix(strings.TrimSpace(s), "jdbc:") {
		// A bare JDBC URL (the value of url=): commas are part of it.
		params = nil
		spans = append(spans, jdbcSecretSpans(s, 0, len(s))...)
	}
	inPassword := false // the parameters before were password= and parts without '='
	for _, p := range params {
		eq := strings.IndexByte(s[p[0]:p[1]], '=')
		if eq < 0 {
			if vs, ve := trimSpan(s, p[0], p[1]); inPassword && vs < ve {
				// The rest of a password with a comma in it, split off
				// where quotes do not pair up or there are none.
				spans = append(spans, [2]int{vs, ve})
				continue
			}
			spans = append(spans, jdbcSecretSpans(s, p[0], p[1])...)
			continue
		}
		inPassword = false
		key := strings.TrimSpace(s[p[0] : p[0]+eq])
		vs, ve := trimSpan(s, p[0]+eq+1, p[1])
		if strings.EqualFold(key, "password") {
			if vs < ve {
				spans = append(spans, [2]int{vs, ve})
			}
			inPassword = true
			continue
		}
		spans = append(spans, jdbcSecretSpans(s, vs, ve)...)
		if !strings.Contains(s[vs:ve], "jdbc:") {
			// A bare JDBC URL: its query's '=' is not a parameter's.
			spans = append(spans, jdbcSecretSpans(s, p[0], p[1])...)
		}
	}
	for _, m := range passwordRE.FindAllStringSubmatchIndex(s, -1) {
		spans = append(spans, [2]int{m[4], m[5]})
	}
	for _, m := range urlPasswordRE.FindAllStringSubmatchIndex(s, -1) {
		spans = append(spans, [2]int{m[3], m[1]})
	}
	for _, m := range userinfoRE.FindAllStringSubmatchIndex(s, -1) {
		spans = append(spans, [2]int{m[3], m[1] - 1})
	}
	return spans
}

// maskSpans replaces each of the byte ranges spans of s with ***; ranges
// that overlap or touch are hidden as one.
func maskSpans(s string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp[0] <= last[1] {
			last[1] = max(last[1], sp[1])
			continue
		}
		merged = append(merged, sp)
	}
	var b strings.Builder
	at := 0
	for _, sp := range merged {
		b.WriteString(s[at:sp[0]])
		b.WriteString("***")
		at = sp[1]
	}
	b.WriteString(s[at:])
	return b.String()
}

// paramSpans returns the byte ranges of the comma-separated parameters of
// s[from:], split as splitParams splits them.
func paramSpans(s string, from int) [][2]int {
	var out [][2]int
	var quote byte
	begin := from
	for i := from; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case c == quote:
			quote = 0
		case c == ',' && quote == 0:
			out = append(out, [2]int{begin, i})
			begin = i + 1
		}
	}
	if quote != 0 {
		// Unpaired quotes: split at every comma.
		out = out[:0]
		begin = from
		for i := from; i < len(s); i++ {
			if s[i] == ',' {
				out = append(out, [2]int{begin, i})
				begin = i + 1
			}
		}
	}
	return append(out, [2]int{begin, len(s)})
}

// trimSpan trims spaces and one pair of enclosing quotes from s[a:b].
func trimSpan(s string, a, b int) (int, int) {
	for a < b && isSpace(s[a]) {
		a++
	}
	for b > a && isSpace(s[b-1]) {
		b--
	}
	if b-a >= 2 && (s[a] == '"' || s[a] == '\'') && s[b-1] == s[a] {
		a, b = a+1, b-1
	}
	return a, b
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// jdbcSecretSpans returns the ranges of s[a:b] that jdbc.MaskJDBCURL hides
// when s[a:b] holds a JDBC URL (read from its "jdbc:" on): the password of
// user:password@ before the host, password parameters up to '&' or ';',
// and for a URL that package jdbc refuses, what may be a password it could
// not tell apart.
func jdbcSecretSpans(s string, a, b int) [][2]int {
	i := strings.Index(s[a:b], "jdbc:")
	if i < 0 {
		return nil
	}
	a += i
	spans := jdbc.PasswordSpans(s[a:b])
	for i := range spans {
		spans[i][0] += a
		spans[i][1] += a
	}
	return spans
}
