package api

import (
	"testing"

	"github.com/kylin-tools/metastore/scope"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"learn_kylin":            "learn_kylin",
		"/opt/kylin/meta":        "/opt/kylin/meta",
		"":                       "''",
		"with space":             "'with space'",
		"it's":                   `'it'\''s'`,
		"$(rm -rf /)":            "'$(rm -rf /)'",
		"a;b":                    "'a;b'",
		"cube/kylin_sales_cube":  "cube/kylin_sales_cube",
		"before-upgrade@v1,x=1%": "before-upgrade@v1,x=1%",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestCommands checks the command lines the console shows for its
// requests: the arguments and flags the CLI takes for the same request.
func TestCommands(t *testing.T) {
	def := IgnoreList(false, nil)
	for _, tc := range []struct {
		got, want string
	}{
		{RestoreRequest{Kind: scope.System, Ref: "latest"}.Command(), "metastore restore latest"},
		{RestoreRequest{Kind: scope.Project, Name: "learn_kylin", Ref: "1a2b3c4d", AfterTruncate: true, DryRun: true}.Command(),
			"metastore restore-project learn_kylin 1a2b3c4d --after-truncate --dry-run"},
		{RestoreRequest{Kind: scope.Cube, Project: "p", Cube: "my cube", Ref: "t", AllowForeign: true}.Command(),
			"metastore restore-cube p t --cube 'my cube' --allow-foreign"},
		{RestoreRequest{Kind: scope.Cube, Project: "p", Ref: "cube/c", CreateSchema: "4"}.Command(),
			"metastore restore-cube p cube/c --create-schema 4"},
		{DiffRequest{A: "a", Ignore: def}.Command(), "metastore diff a"},
		{DiffRequest{A: "a", B: "b", Project: "p", Types: []string{"cube", "cube_desc"}, Prefix: "/cube", Stat: true, Ignore: def}.Command(),
			"metastore diff a b --project p --type cube,cube_desc --prefix /cube --stat"},
		{DiffRequest{A: "a", Cube: "c", NameOnly: true, Ignore: IgnoreList(false, []string{"segments,owner"})}.Command(),
			"metastore diff a --cube c --name-only --ignore segments,owner"},
		{DiffRequest{A: "a", Ignore: IgnoreList(true, nil)}.Command(), "metastore diff a --no-default-ignore"},
		{DiffRequest{A: "a", Ignore: IgnoreList(true, []string{"x"})}.Command(), "metastore diff a --no-default-ignore --ignore x"},
		{HistoryRequest{Path: "/cube/c.json", Patch: true, Ignore: def}.Command(), "metastore history /cube/c.json -p"},
		{HistoryRequest{Project: "p", Ignore: def}.Command(), "metastore history --project p"},
		{RestoreCommand(scope.SystemScope(), "abc", ""), "metastore restore abc"},
		{RestoreCommand(scope.ProjectScope("p"), "abc", ""), "metastore restore-project p abc"},
		{RestoreCommand(scope.CubeScope("c"), "abc", ""), "metastore restore-cube PROJECT abc"},
		{RestoreCommand(scope.CubeScope("c"), "abc", "p"), "metastore restore-cube p abc"},
		{UndoCommand(scope.CubeScope("c"), "p", "abc"), "metastore restore-cube p abc --after-truncate"},
		{UndoCommand(scope.SystemScope(), "", "abc"), "metastore restore abc --after-truncate"},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}
