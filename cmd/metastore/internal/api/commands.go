package api

import (
	"strings"

	"github.com/kylin-tools/metastore/scope"
)

// The command lines that carry out a request, for the console to show
// ("the CLI equivalent"): they start with "metastore" and name the
// arguments as the command line takes them, quoted for a POSIX shell.

// Command is the restore command of the request (with --dry-run when the
// request is a dry run).
func (req RestoreRequest) Command() string {
	var b strings.Builder
	switch req.Kind {
	case scope.Project:
		b.WriteString("metastore restore-project " + Quote(req.Name) + " " + Quote(req.Ref))
	case scope.Cube:
		b.WriteString("metastore restore-cube " + Quote(req.Project) + " " + Quote(req.Ref))
		if req.Cube != "" {
			b.WriteString(" --cube " + Quote(req.Cube))
		}
	default:
		b.WriteString("metastore restore " + Quote(req.Ref))
	}
	if req.AfterTruncate {
		b.WriteString(" --after-truncate")
	}
	if req.AllowForeign {
		b.WriteString(" --allow-foreign")
	}
	if req.CreateSchema != "" {
		b.WriteString(" --create-schema " + Quote(req.CreateSchema))
	}
	if req.DryRun {
		b.WriteString(" --dry-run")
	}
	return b.String()
}

// Command is the diff command of the request.
func (req DiffRequest) Command() string {
	var b strings.Builder
	b.WriteString("metastore diff " + Quote(req.A))
	if req.B != "" {
		b.WriteString(" " + Quote(req.B))
	}
	if req.Project != "" {
		b.WriteString(" --project " + Quote(req.Project))
	}
	if req.Cube != "" {
		b.WriteString(" --cube " + Quote(req.Cube))
	}
	if len(req.Types) > 0 {
		b.WriteString(" --type " + Quote(strings.Join(req.Types, ",")))
	}
	if req.Prefix != "" {
		b.WriteString(" --prefix " + Quote(req.Prefix))
	}
	if req.Stat {
		b.WriteString(" --stat")
	}
	if req.NameOnly {
		b.WriteString(" --name-only")
	}
	writeIgnore(&b, req.Ignore)
	return b.String()
}

// Command is the history command of the request.
func (req HistoryRequest) Command() string {
	var b strings.Builder
	if req.Project != "" {
		b.WriteString("metastore history --project " + Quote(req.Project))
	} else {
		b.WriteString("metastore history " + Quote(req.Path))
	}
	if req.Patch {
		b.WriteString(" -p")
	}
	writeIgnore(&b, req.Ignore)
	return b.String()
}

// writeIgnore adds the flags that give ignore, if it is not the default.
func writeIgnore(b *strings.Builder, ignore []string) {
	def := IgnoreList(false, nil)
	if len(ignore) >= len(def) && strings.Join(ignore[:len(def)], ",") == strings.Join(def, ",") {
		if extra := ignore[len(def):]; len(extra) > 0 {
			b.WriteString(" --ignore " + Quote(strings.Join(extra, ",")))
		}
		return
	}
	b.WriteString(" --no-default-ignore")
	if len(ignore) > 0 {
		b.WriteString(" --ignore " + Quote(strings.Join(ignore, ",")))
	}
}
