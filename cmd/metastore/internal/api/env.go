package api

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// Env says where the metastore and the snapshot repository are. The command
// line builds it from its global flags (--metadata-url, --repo, ...).
type Env struct {
	// OpenRepo opens the repository: explicit if not empty (backup-project
	// P REPO), else the configured one. create makes it when nothing is
	// there (a backup); created reports that it did.
	OpenRepo func(explicit string, create bool) (repo *snapshot.Repository, created bool, err error)
	// OpenMetastore opens the live metastore; create makes a missing folder
	// (a restore into a fresh metastore), createSchema the tables of an
	// empty database ("4" or "5"). desc names it with any password masked.
	OpenMetastore func(ctx context.Context, create bool, createSchema string) (st metastore.Store, desc string, err error)
	// MaskedURL is the metastore's URL with any password masked (to name
	// one that does not exist yet).
	MaskedURL func() string
	// RepoOptions configure the throw-away repository a dry run imports a
	// Kylin backup folder into.
	RepoOptions func() snapshot.Options
	// Folders lets a reference name a Kylin backup folder on disk (the
	// command line). The console leaves it false: a request from a browser
	// never makes the server read an arbitrary folder.
	Folders bool
	// Notice, if not nil, reports what a request did on the side (a Kylin
	// backup folder recorded as a snapshot).
	Notice func(format string, args ...any)
	// Warn, if not nil, reports what went wrong on the side of a request
	// that failed anyway (an empty repository a failed first backup could
	// not remove).
	Warn func(format string, args ...any)
	// CheckSeparate refuses, with an error wrapping
	// snapshot.ErrInsideRepository, a folder metastore or any of folders
	// (a Kylin backup folder) that is, contains or lies inside the
	// repository (explicit if not empty, else the configured one): a
	// backup and a restore call it before they open or create anything.
	// The console requires it; nil checks nothing here (package snapshot
	// still refuses before writing).
	CheckSeparate func(explicitRepo string, folders ...string) error
	// Command, if not nil, completes a command line as this package writes
	// it ("metastore VERB ARGS") with the global flags that reach the
	// metastore and repository the request used (repo), for the commands
	// an answer tells the user to run (the undo of a restore). nil leaves
	// it as it is.
	Command func(repo *snapshot.Repository, cmd string) string
}

// Exit codes, documented in the README's table.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the operation failed (I/O, database, ...)
	ExitUsage    = 2 // the command line was wrong
	ExitNotFound = 3 // unknown snapshot, tag, project, cube, resource or remote
	ExitRefused  = 4 // refused to act: foreign metastore, scope mismatch, tag taken, empty source, metastore overlapping the repository, non-fast-forward push, remote name taken
	ExitRepo     = 5 // the repository is missing, corrupt, foreign or too new
)

// UsageError marks a request that is wrong (a bad flag, argument or
// parameter); the command line exits with ExitUsage.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// ExitCode maps an error to the README's exit code.
func ExitCode(err error) int {
	var ue UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue), errors.Is(err, scope.ErrAmbiguousCube), isRemoteUsage(err):
		return ExitUsage
	case errors.Is(err, snapshot.ErrEmptyPolicy):
		return ExitUsage
	case errors.Is(err, snapshot.ErrUnknownRemote), errors.Is(err, snapshot.ErrNothingToUndo):
		return ExitNotFound
	case errors.Is(err, snapshot.ErrNonFastForward), errors.Is(err, snapshot.ErrRemoteExists):
		return ExitRefused
	case errors.Is(err, snapshot.ErrNotFound), errors.Is(err, snapshot.ErrAmbiguous),
		errors.Is(err, scope.ErrUnknownProject), errors.Is(err, scope.ErrUnknownCube),
		errors.Is(err, snapshot.ErrNotResource):
		return ExitNotFound
	case errors.Is(err, snapshot.ErrForeign), errors.Is(err, snapshot.ErrScopeMismatch), errors.Is(err, snapshot.ErrConflict),
		errors.Is(err, snapshot.ErrTagExists), errors.Is(err, snapshot.ErrEmptySource),
		errors.Is(err, snapshot.ErrInvalidRef), errors.Is(err, scope.ErrInvalidScope),
		errors.Is(err, snapshot.ErrReservedPath), errors.Is(err, snapshot.ErrInsideRepository):
		return ExitRefused
	case errors.Is(err, snapshot.ErrNoRepository), errors.Is(err, snapshot.ErrCorrupt),
		errors.Is(err, snapshot.ErrNotMetastoreRepository), errors.Is(err, snapshot.ErrNewerFormat):
		return ExitRepo
	}
	return ExitFailure
}

// isRemoteUsage tells remote errors that are the command line's fault: an
// unusable remote URL, no remote given and none the default, no instance
// name to push under.
func isRemoteUsage(err error) bool {
	return errors.Is(err, snapshot.ErrRemoteURL) || errors.Is(err, snapshot.ErrNoRemote) || errors.Is(err, snapshot.ErrNoInstance)
}

// NamedScope builds a project or cube scope and checks the name.
func NamedScope(mk func(string) scope.Scope, name string) (scope.Scope, error) {
	s := mk(name)
	if _, err := scope.Parse(s.String()); err != nil {
		return s, UsageError{err.Error()}
	}
	return s, nil
}

// isBackupFolder reports whether ref names a folder on disk (a Kylin backup
// folder) rather than a snapshot.
func (e *Env) isBackupFolder(ref string) bool {
	if !e.Folders {
		return false
	}
	if !strings.ContainsRune(ref, os.PathSeparator) && !strings.HasPrefix(ref, "meta_") {
		return false
	}
	st, err := os.Stat(ref)
	return err == nil && st.IsDir()
}

func (e *Env) notice(format string, args ...any) {
	if e.Notice != nil {
		e.Notice(format, args...)
	}
}

func (e *Env) warn(format string, args ...any) {
	if e.Warn != nil {
		e.Warn(format, args...)
	}
}

func (e *Env) checkSeparate(explicitRepo string, folders ...string) error {
	if e.CheckSeparate == nil {
		return nil
	}
	return e.CheckSeparate(explicitRepo, folders...)
}

// command completes cmd with the global flags (Env.Command).
func (e *Env) command(repo *snapshot.Repository, cmd string) string {
	if e.Command == nil {
		return cmd
	}
	return e.Command(repo, cmd)
}

func (e *Env) openRepo() (*snapshot.Repository, error) {
	repo, _, err := e.OpenRepo("", false)
	return repo, err
}

func closeStore(st metastore.Store) {
	if c, ok := st.(metastore.Closer); ok {
		c.Close()
	}
}
