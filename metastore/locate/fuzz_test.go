package locate

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore/jdbc"
)

// FuzzParseURL builds Kylin metadata URLs with a password in each place
// Kylin accepts one (a password= parameter, plain, double- or single-quoted;
// a password parameter of the JDBC URL after '?' or ';'; user:password@
// before a MySQL or PostgreSQL host) and
// arbitrary other parameters, and checks that ParseURL never panics and that
// the password appears in none of what may be printed: Mask's output,
// URL.String, ParseURL's error, the JDBC settings' error or Describe.
func FuzzParseURL(f *testing.F) {
	f.Add("kylin_metadata", "s3cret", uint8(0), "maxActive=10")
	f.Add("kylin_metadata", "p@ss,word", uint8(1), "")
	f.Add("kylin", "it's", uint8(0), `x="a`)
	f.Add("kylin", "Zm9vYmFy", uint8(2), "useSSL=false")
	f.Add("", "se:cr@t", uint8(3), "")
	f.Add("kylin", "pa\"ss", uint8(4), "username=root")
	f.Add("kylin", "%41bcdef", uint8(2), "")
	f.Add("a@hbase", "hunter2", uint8(0), "password=")
	f.Add("kylin", "pg;user:pw", uint8(5), "")
	f.Add("kylin", "semi-pw", uint8(6), "maxActive=1")
	f.Fuzz(func(t *testing.T, ident, pw string, form uint8, extra string) {
		var url string
		// Each form leaves out the characters that would end the password
		// early in that position: such a URL has a different password.
		switch form % 7 {
		case 0: // password=pw (Kylin 2.x-4.x)
			if strings.ContainsAny(pw, `,"'`) || strings.HasPrefix(strings.TrimSpace(pw), "ENC(") {
				return
			}
			url = ident + "@jdbc,url=jdbc:mysql://db:3306/kylin,username=kylin,password=" + pw + "," + extra
		case 1: // password="pw" (Kylin 5)
			if strings.Contains(pw, `"`) {
				return
			}
			url = ident + `@jdbc,url=jdbc:postgresql://db:5432/kylin,username=kylin,password="` + pw + `",` + extra
		case 2: // ?password=pw in the JDBC URL
			if strings.ContainsAny(pw, `&;,"'`) {
				return
			}
			url = ident + "@jdbc,url=jdbc:postgresql://db:5432/kylin?user=kylin&password=" + pw + "&ssl=false," + extra
		case 3: // user:pw@host
			if strings.ContainsAny(pw, `/@?,"'`) {
				return
			}
			url = ident + "@jdbc,url=jdbc:mysql://kylin:" + pw + "@db:3306/kylin," + extra
		case 4: // password='pw' (Kylin 5)
			if strings.Contains(pw, `'`) {
				return
			}
			url = ident + "@jdbc,url=jdbc:mysql://db:3306/kylin,username=kylin,password='" + pw + "'," + extra
		case 5: // PostgreSQL user:pw@host
			if strings.ContainsAny(pw, `/@?,"'`) {
				return
			}
			url = ident + "@jdbc,url=jdbc:postgresql://kylin:" + pw + "@db/kylin," + extra
		case 6: // ;password=pw after the database
			if strings.ContainsAny(pw, `&;,"'`) {
				return
			}
			url = ident + "@jdbc,url=jdbc:postgresql://db:5432/kylin;user=kylin;password=" + pw + "," + extra
		}
		checkNoLeak(t, url, pw)
	})
}

// FuzzMaskParsedPassword parses arbitrary metadata URLs and checks that the
// password the parser finds, which is the one used to log in, is the one the
// masking hides: whatever ParseURL and the JDBC settings take as the
// password never shows in Mask's output, URL.String or Describe.
func FuzzMaskParsedPassword(f *testing.F) {
	f.Add("kylin_metadata@jdbc,url=jdbc:mysql://localhost:3306/kylin,username=root,password=p@ss,maxActive=10")
	f.Add(`kylin@jdbc,url="jdbc:postgresql://h:5432/k?password=abc",password = " spaced secret "`)
	f.Add("kylin@jdbc,url=jdbc:mysql://u:pw1234@h/k,password=ENC('abc,def')")
	f.Add("kylin@jdbc,url=jdbc:mysql://h/k, password\t=\ttabbed-secret")
	f.Add("kylin@jdbc,url=jdbc:mysql://h/k,PASSWORD=UpperCaseKey")
	// Quotes and commas in a password inside the JDBC URL: the parser
	// takes them as part of the password, up to '&' or ';'.
	f.Add(`kylin@jdbc,url=jdbc:mysql://h:3306/k?password=ab"c,d"ef&x=1,username=u`)
	f.Add(`kylin@jdbc,url=jdbc:postgresql:kylin?password= "quoted-tail`)
	f.Add(`kylin@jdbc,url="jdbc:mysql://h/k?password=in,quotes",username=u`)
	f.Add(`kylin@jdbc,url=jdbc:mysql://h/k,password=ab"c,d"ef`)
	f.Add("/opt/kylin/meta")
	f.Add("file:///opt/kylin/meta")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !strings.Contains(err.Error(), "metadata URL") {
				t.Fatalf("ParseURL(%q): error %q does not say what is wrong", s, err)
			}
			return
		}
		_ = u.String()
		for _, p := range u.Params {
			if strings.EqualFold(strings.TrimSpace(p.Key), "password") {
				checkNoLeak(t, s, p.Value)
			}
		}
		if u.Scheme != "jdbc" {
			return
		}
		if ju, err := jdbc.ParseJDBCURL(u.Get("url")); err == nil && ju.HasPassword {
			checkNoLeak(t, s, ju.Password)
		}
	})
}

// checkNoLeak checks that password pw of metadata URL url shows nowhere a
// user may see it. Passwords that cannot be told apart from the rest of the
// URL (too short, or occurring elsewhere in it) are not checked, nor those
// with '*' (the mask itself could spell them).
func checkNoLeak(t *testing.T, url, pw string) {
	t.Helper()
	secret := strings.TrimSpace(pw)
	if len(secret) < 3 || strings.Count(url, secret) != 1 || strings.Contains(secret, "*") {
		return
	}
	// Messages quote the URL (%q), so look for the password as it is and
	// as quoting spells it.
	forms := []string{secret}
	if q := strconv.Quote(secret); q[1:len(q)-1] != secret {
		forms = append(forms, q[1:len(q)-1])
	}
	// What the same URL shows with another password tells the text that
	// happens to spell the password ("JDBC subprotocol" holds "C s") from
	// the password itself.
	other := printed(strings.Replace(url, secret, "\x01\x02", 1))
	for where, s := range printed(url) {
		for _, f := range forms {
			if strings.Contains(s, f) && !strings.Contains(other[where], f) {
				t.Fatalf("password %q of %q shows in %s: %q", secret, url, where, s)
			}
		}
	}
}

// printed returns what a user may see of metadata URL url, by where it
// shows.
func printed(url string) map[string]string {
	out := map[string]string{"Mask": Mask(url)}
	u, err := ParseURL(url)
	if err != nil {
		out["ParseURL's error"] = err.Error()
		return out
	}
	out["URL.String"] = u.String()
	if u.Scheme != "jdbc" {
		return out
	}
	cfg, err := u.JDBCConfig()
	if err != nil {
		out["the JDBC settings' error"] = err.Error()
		return out
	}
	out["Describe"] = cfg.Describe()
	return out
}
