package locate

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore/jdbc"
)

func TestParseURLJDBC(t *testing.T) {
	tests := []struct {
		in     string
		id     string
		params []Param
	}{
		{
			"kylin_metadata@jdbc,url=jdbc:mysql://localhost:3306/kylin,username=root,password=p@ss,maxActive=10",
			"kylin_metadata",
			[]Param{{"url", "jdbc:mysql://localhost:3306/kylin"}, {"username", "root"}, {"password", "p@ss"}, {"maxActive", "10"}},
		},
		{
			// Kylin 5: quoted values, ENC('...') passwords.
			`@jdbc,driverClassName=org.postgresql.Driver,url="jdbc:postgresql://h1:5432,h2:5432/kylin",username=postgres,password=ENC('YeqVr9MakSFbgxEec9sBwg==')`,
			DefaultIdentifier,
			[]Param{{"driverClassName", "org.postgresql.Driver"}, {"url", "jdbc:postgresql://h1:5432,h2:5432/kylin"}, {"username", "postgres"}, {"password", "ENC('YeqVr9MakSFbgxEec9sBwg==')"}},
		},
		{
			// Kylin 4 splits at every comma: an unpaired quote is no quote.
			"meta@jdbc,url=jdbc:mysql://h/kylin,username=u,password=it's",
			"meta",
			[]Param{{"url", "jdbc:mysql://h/kylin"}, {"username", "u"}, {"password", "it's"}},
		},
	}
	for _, tt := range tests {
		u, err := ParseURL(tt.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if u.Scheme != "jdbc" || u.Identifier != tt.id || !slices.Equal(u.Params, tt.params) {
			t.Errorf("ParseURL(%q) = %q %q %q, want %q jdbc %q", tt.in, u.Identifier, u.Scheme, u.Params, tt.id, tt.params)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"kylin@jdbc,url=jdbc:mysql://h/kylin,username=root,password=s3cret", "kylin@jdbc,url=jdbc:mysql://h/kylin,username=root,password=***"},
		{`kylin@jdbc,url=jdbc:postgresql://h/kylin,password=ENC('abc,def')`, "kylin@jdbc,url=jdbc:postgresql://h/kylin,password=***"},
		{"kylin@jdbc,url=jdbc:mysql://u:s3cret@h/kylin?password=s3cret&x=1,username=u", "kylin@jdbc,url=jdbc:mysql://u:***@h/kylin?password=***&x=1,username=u"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
		u, err := ParseURL(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if s := u.String(); strings.Contains(s, "s3cret") || strings.Contains(s, "abc") {
			t.Errorf("URL.String() = %q reveals the password", s)
		}
	}
}

func TestOpenJDBC(t *testing.T) {
	ctx := t.Context()
	_, err := OpenWith(ctx, "kylin@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin,username=u,password=s3cret", Options{})
	if !errors.Is(err, jdbc.ErrUnreachable) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("OpenWith of a server that is down: %v, want jdbc.ErrUnreachable without the password", err)
	}
	_, err = Open(ctx, "kylin@jdbc,username=u,password=s3cret", false)
	if !errors.Is(err, jdbc.ErrConfig) {
		t.Errorf("Open without url=: %v, want jdbc.ErrConfig", err)
	}
	_, err = OpenWith(ctx, "kylin@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin,username=u,password=s3cret", Options{CreateSchema: "6"})
	if !errors.Is(err, jdbc.ErrConfig) {
		t.Errorf("OpenWith with CreateSchema 6: %v, want jdbc.ErrConfig", err)
	}
}
