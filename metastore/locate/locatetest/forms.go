// Package locatetest holds what the tests of several packages share about
// metadata URLs: the forms a password can take in one.
package locatetest

import (
	"net/url"
	"strings"
)

// SecretForm is a metadata URL with a password in one of the places Kylin,
// its JDBC drivers or a careless hand put one. The database it names is not
// there (a closed port of 127.0.0.1, or 127.0.0.2 for a URL without a port).
type SecretForm struct {
	Name string
	URL  string
	// Secrets are the pieces of the password: none may show anywhere.
	Secrets []string
	// User and Password are what the tool must log in with; "" for a URL
	// it refuses (the JDBC drivers would not read it either) or whose
	// password it cannot know without Kylin's keys.
	User, Password string
}

// secretForms are the password forms the secrets tests try, each with a
// password of its own.
var secretForms = []SecretForm{
	{"plain", "kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin,username=kylin,password=PlainPw-01,maxActive=10", []string{"PlainPw-01"}, "kylin", "PlainPw-01"},
	{"double-quoted with a comma", `kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin,username=kylin,password="DqComma,Pw-02",maxTotal=50`, []string{"DqComma", "Pw-02"}, "kylin", "DqComma,Pw-02"},
	{"single-quoted with a comma", `kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin,username=kylin,password='SqComma,Pw-03'`, []string{"SqComma", "Pw-03"}, "kylin", "SqComma,Pw-03"},
	{"quoted with spaces and a comma", `kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin,username=kylin, password = " Spaced, Pw-04 " ,maxIdle=1`, []string{"Spaced", "Pw-04"}, "kylin", " Spaced, Pw-04 "},
	{"quoted with an escaped quote and a comma", `kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin,username=kylin,password="EscQ\"aped,Pw-05"`, []string{"EscQ", "aped", "Pw-05"}, "", ""},
	{"quoted with a comma, a stray quote later", `kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin,username=kylin,password="Stray,Pw-06",x="y`, []string{"Stray", "Pw-06"}, "", ""},
	{"unquoted with a comma", `kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin,username=kylin,password=UnqHead,Tail-07`, []string{"UnqHead", "Tail-07"}, "", ""},
	{"PostgreSQL user:password@host:port", "kylin_metadata@jdbc,url=jdbc:postgresql://kylin:PgUser-08@127.0.0.1:1/kylin,username=other,password=Wrong-08", []string{"PgUser-08", "Wrong-08"}, "kylin", "PgUser-08"},
	{"PostgreSQL user:password@host", "kylin_metadata@jdbc,url=jdbc:postgresql://kylin:PgUser-09@127.0.0.2/kylin", []string{"PgUser-09"}, "kylin", "PgUser-09"},
	{"MySQL user:password@host", "kylin_metadata@jdbc,url=jdbc:mysql://kylin:MyUser-10@127.0.0.1:1/kylin,username=other,password=Wrong-10", []string{"MyUser-10", "Wrong-10"}, "kylin", "MyUser-10"},
	{"MySQL user:password@host, percent-encoded", "kylin_metadata@jdbc,url=jdbc:mysql://kylin:My%40User-11@127.0.0.1:1/kylin", []string{"My%40User-11", "User-11"}, "kylin", "My@User-11"},
	{"MariaDB user:password@host, '@' in the password", "kylin_metadata@jdbc,url=jdbc:mariadb://kylin:Ma@User-12@127.0.0.1:1/kylin", []string{"User-12"}, "kylin", "Ma@User-12"},
	{"PostgreSQL ;password=", "kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin;password=PgSemi-13,username=kylin", []string{"PgSemi-13"}, "kylin", "PgSemi-13"},
	{"MySQL ;user=;password=", "kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin;user=kylin;password=MySemi-14", []string{"MySemi-14"}, "kylin", "MySemi-14"},
	{"MySQL ?password=", "kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin?password=MyQuery-15&useSSL=false,username=kylin,password=Wrong-15", []string{"MyQuery-15", "Wrong-15"}, "kylin", "MyQuery-15"},
	{"PostgreSQL &password=", "kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin?user=kylin&password=PgAmp-16", []string{"PgAmp-16"}, "kylin", "PgAmp-16"},
	{"quoted JDBC URL, ?password= with a comma", `kylin_metadata@jdbc,url="jdbc:postgresql://127.0.0.1:1/kylin?password=UrlComma,Pw-17",username=kylin`, []string{"UrlComma", "Pw-17"}, "kylin", "UrlComma,Pw-17"},
	{"MySQL ;password= after ?", "kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin?useSSL=false;password=MySemiQ-18,username=kylin", []string{"MySemiQ-18"}, "kylin", "MySemiQ-18"},
	{"ENC('...')", "kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin,username=kylin,password=ENC('RW5jUGFzc3dvcmQxOQ==')", []string{"RW5jUGFzc3dvcmQxOQ"}, "", ""},
	{"passwordEncrypted=true", "kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin,username=kylin,password=RW5jcnlwdGVkMjA=,passwordEncrypted=true", []string{"RW5jcnlwdGVkMjA"}, "", ""},
	{";password= in the port", "kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1;password=PortSemi-21/kylin,username=kylin", []string{"PortSemi-21"}, "", ""},
	{"'/' in user:password@", "kylin_metadata@jdbc,url=jdbc:mysql://kylin:Slash/Pw-22@127.0.0.1:1/kylin", []string{"Slash", "Pw-22"}, "", ""},
	{"'?' in user:password@", "kylin_metadata@jdbc,url=jdbc:postgresql://kylin:Quest?Pw-23@127.0.0.1:1/kylin", []string{"Quest", "Pw-23"}, "", ""},
	{"jdbc:postgresql:database?password=", "kylin_metadata@jdbc,url=jdbc:postgresql:kylin?password=NoSlash-24,username=kylin", []string{"NoSlash-24"}, "kylin", "NoSlash-24"},
	{"PASSWORD= in capitals", "kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin,username=kylin,PASSWORD=Upper-25", []string{"Upper-25"}, "", ""},
	{"user:password@ with unquoted hosts", "kylin_metadata@jdbc,url=jdbc:mysql://kylin:MyMulti-26@127.0.0.1:1,127.0.0.1:2/kylin", []string{"MyMulti-26"}, "", ""},
	{"user:password@ with quoted hosts", `kylin_metadata@jdbc,url="jdbc:postgresql://kylin:PgMulti-27@127.0.0.1:1,127.0.0.1:2/kylin"`, []string{"PgMulti-27"}, "kylin", "PgMulti-27"},
	{"password and ;password= in the JDBC URL", "kylin_metadata@jdbc,url=jdbc:postgresql://u1:First-28@127.0.0.1:1/kylin;password=Second-28", []string{"First-28", "Second-28"}, "u1", "Second-28"},
	{"password= before url=", `kylin_metadata@jdbc,password="Before,Url-29",username=kylin,url=jdbc:mysql://127.0.0.1:1/kylin`, []string{"Before", "Url-29"}, "kylin", "Before,Url-29"},
}

// SecretForms returns the password forms the secrets tests try, each with
// a password of its own.
func SecretForms() []SecretForm { return append([]SecretForm(nil), secretForms...) }

// LoginForms returns metadata URLs of database db at host (host:port),
// reached through JDBC subprotocol sub ("postgresql", "mysql", ...), that
// give user and password in each way Kylin and its JDBC drivers take
// them: the password parameter (plain, double- and single-quoted),
// user:password@ before the host, ;user=...;password=... after the
// database, ?password=...&user=... (in a quoted JDBC URL too). Where the
// JDBC URL carries the password, the password parameter is decoy and the
// username parameter "nobody": they must not be used. Forms password
// cannot be written in are left out.
func LoginForms(identifier, sub, host, db, user, password, decoy string) []SecretForm {
	q := url.QueryEscape
	jdbcURL := "jdbc:" + sub + "://" + host + "/" + db
	var forms []SecretForm
	add := func(name, params string) {
		forms = append(forms, SecretForm{Name: name, URL: identifier + "@jdbc," + params, Secrets: []string{password, decoy}, User: user, Password: password})
	}
	if !strings.ContainsAny(password, `,"'`) && !strings.HasPrefix(strings.TrimSpace(password), "ENC(") && strings.TrimSpace(password) == password {
		add("password=", "url="+jdbcURL+",username="+user+",password="+password)
	}
	if !strings.Contains(password, `"`) {
		add(`password="..."`, "url="+jdbcURL+",username="+user+`,password="`+password+`"`)
	}
	if !strings.Contains(password, `'`) {
		add(`password='...'`, "url="+jdbcURL+",username="+user+`,password='`+password+`'`)
	}
	add("user:password@host", "url=jdbc:"+sub+"://"+q(user)+":"+q(password)+"@"+host+"/"+db+",username=nobody,password="+decoy)
	add(";user=...;password=...", "url="+jdbcURL+";user="+q(user)+";password="+q(password)+",username=nobody,password="+decoy)
	add("?password=...&user=...", "url="+jdbcURL+"?password="+q(password)+"&user="+q(user)+",username=nobody,password="+decoy)
	add(`url="...?user=...&password=..."`, `url="`+jdbcURL+"?user="+q(user)+"&password="+q(password)+`",password=`+decoy)
	return forms
}
