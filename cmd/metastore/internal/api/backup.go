package api

import (
	"context"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// BackupRequest asks for a snapshot of one scope.
type BackupRequest struct {
	Scope           scope.Scope
	Repo            string // an explicit repository (backup-project P REPO); "" for the configured one
	Message         string
	Tags            []string
	SkipIfUnchanged bool
	WithSegments    bool
	// Model says the scope names a Kylin 5 model (backup-model): an
	// unknown one's message says "model".
	Model bool
}

// Backup is a backup done.
type Backup struct {
	Result  *snapshot.BackupResult
	Scope   scope.Scope
	Created bool   // the repository was created
	Source  string // the metastore, password masked
	Seconds float64
}

// CheckMessage accepts a snapshot title: one line of text. A line break
// would forge lines in log (and look like trailers in the commit), other
// control characters would rewrite the terminal of whoever reads log.
func CheckMessage(msg string) error {
	if !utf8.ValidString(msg) {
		return Usagef("-m: the message is not valid UTF-8")
	}
	for i, r := range msg {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return Usagef("-m: the message is one line of text: character %q at byte %d is a line break or control character", r, i)
		}
	}
	return nil
}

// Backup records a snapshot of req.Scope of the live metastore, creating
// the repository on first use (and removing it again if the backup fails).
// It refuses a message that is not one line of text, and a metastore
// folder that overlaps the repository, before it opens anything. p
// receives progress; nil for none.
func (e *Env) Backup(ctx context.Context, req BackupRequest, p snapshot.Progress) (*Backup, error) {
	start := time.Now()
	if err := CheckMessage(req.Message); err != nil {
		return nil, err
	}
	if err := e.checkSeparate(req.Repo); err != nil {
		return nil, err
	}
	src, desc, err := e.OpenMetastore(ctx, false, "")
	if err != nil {
		return nil, err
	}
	defer closeStore(src)
	repo, created, err := e.OpenRepo(req.Repo, true)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	res, err := repo.Backup(ctx, src, snapshot.BackupOptions{
		Scope:           req.Scope,
		WithSegments:    req.WithSegments,
		Message:         req.Message,
		Tags:            req.Tags,
		SkipIfUnchanged: req.SkipIfUnchanged,
		Source:          desc,
		Progress:        p,
	})
	if req.Model {
		err = AsModel(err)
	}
	if err != nil {
		if created {
			// Nothing was recorded: leave no empty repository behind.
			if _, rerr := repo.RemoveIfUnused(); rerr != nil {
				e.warn("could not remove the repository this backup created at %s: %v", repo.Path(), rerr)
			}
		}
		return nil, err
	}
	return &Backup{Result: res, Scope: req.Scope, Created: created, Source: desc, Seconds: time.Since(start).Seconds()}, nil
}

// Warnings returns the backup's warnings as "PATH: message".
func (b *Backup) Warnings() []string {
	var warns []string
	for _, w := range b.Result.Warnings {
		warns = append(warns, w.Path+": "+w.Message)
	}
	return warns
}

// JSON is the backup's document.
func (b *Backup) JSON() BackupJSON {
	res := b.Result
	return BackupJSON{
		Snapshot: Snapshot(res.Snapshot), Recorded: res.Recorded, Repository: res.Repository, Created: b.Created,
		Resources: res.Resources, Bytes: res.Bytes, NewObjects: res.NewObjects, NewBytes: res.NewBytes,
		PackBytes: res.PackBytes, Unread: res.Unread, Warnings: NonNil(b.Warnings()), Seconds: b.Seconds,
	}
}

// RestoreCommand is the command line that restores snapshot id of scope s
// (metastore restore ID, restore-project P ID, restore-cube PROJECT ID):
// what a backup tells the user. A cube's target project is left as PROJECT
// unless project names it.
func RestoreCommand(s scope.Scope, id, project string) string {
	switch s.Kind {
	case scope.Project:
		return "metastore restore-project " + Quote(s.Name) + " " + id
	case scope.Cube:
		if project == "" {
			project = "PROJECT"
		} else {
			project = Quote(project)
		}
		return "metastore restore-cube " + project + " " + id
	}
	return "metastore restore " + id
}
