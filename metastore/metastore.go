package metastore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Resource is one entry of a Kylin metastore: its key, its bytes and the
// timestamp Kylin keeps beside it.
type Resource struct {
	// Path is the resource key as Kylin spells it, starting with a slash:
	// "/cube/kylin_sales_cube.json", "/UUID", "/execute/<uuid>".
	Path string
	// Data is the content, treated as opaque bytes (JSON or binary).
	Data []byte
	// Timestamp is Kylin's resource timestamp in milliseconds since the Unix
	// epoch (META_TABLE_TS in a database, the file's mtime in a folder).
	Timestamp int64
	// Zlib, when a source sets it, is Data as the source keeps it: one zlib
	// stream (RFC 1950, no preset dictionary, nothing after it) that
	// inflates to exactly Data, such as Kylin 5 stores in a database. A
	// backup may store it as it is (a git object is a zlib stream too)
	// instead of compressing Data again, and a restore hands on the
	// stream a snapshot holds to a sink that keeps content compressed (a
	// Kylin 5 database); other writers ignore it.
	Zlib []byte
	// Change, when a ChangeWalker sets it, is a fingerprint of the bytes
	// the backend keeps for the resource (see ChangeWalker); "" if it
	// cannot tell.
	Change string
	// Unread is set by ChangeWalker.WalkChanges for a resource whose
	// Change its caller knew: Data and Zlib are nil, the content was not
	// read.
	Unread bool
	// Owned is set by a Walker that hands fn Data and Zlib for good: they
	// stay valid after fn returns and the walker never writes to them
	// again, so fn may keep them instead of copying them. A writer sets it
	// on a Resource it hands Sink.Write or Tx.Write for good, likewise.
	Owned bool
}

// Entry describes a resource without its content, as a listing returns it.
type Entry struct {
	// Path is the resource key (see Resource.Path).
	Path string
	// Size is the length of the content in bytes.
	Size int64
	// Timestamp is Kylin's resource timestamp in milliseconds.
	Timestamp int64
	// Change is an opaque fingerprint that differs whenever the content may
	// have changed since an earlier listing (for a file: device, inode,
	// change time, size and mtime). An empty Change means the backend cannot
	// tell, and the content must be read to know.
	Change string
}

// Source is a metastore that can be read.
type Source interface {
	// List calls fn for every resource whose path starts with prefix, in
	// lexical (byte) order of path. A prefix of "/" lists everything. It
	// stops and returns the first error fn returns.
	List(ctx context.Context, prefix string, fn func(path string) error) error
	// Read returns the resource at path. It returns an error wrapping
	// fs.ErrNotExist if there is no resource at path.
	Read(ctx context.Context, path string) (Resource, error)
}

// Sink is a metastore that can be written.
type Sink interface {
	// Write creates or replaces the resource at r.Path with r.Data and
	// r.Timestamp. A reader sees either the old or the new resource, never a
	// mix. Write keeps nothing of r.Data (or r.Zlib) after it returns,
	// unless r.Owned.
	Write(ctx context.Context, r Resource) error
	// Delete removes the resource at path. Deleting a resource that does not
	// exist is not an error.
	Delete(ctx context.Context, path string) error
}

// Store is a metastore that can be read and written.
type Store interface {
	Source
	Sink
}

// EntryLister is implemented by sources that can list resources with their
// size, timestamp and change fingerprint without reading their content.
type EntryLister interface {
	// ListEntries is List with the entry of each resource.
	ListEntries(ctx context.Context, prefix string, fn func(Entry) error) error
}

// Exister is implemented by sources that can tell whether a resource exists
// without listing its folder or reading it (one stat(2) for a folder, a
// search of one tree for a snapshot), so that following the links of one
// cube does not cost in proportion to the metastore's size.
type Exister interface {
	// Exists reports whether there is a resource at path, with Read's
	// meaning: a folder, or a path below a resource, is not one. An
	// invalid path gives an error wrapping ErrInvalidPath.
	Exists(ctx context.Context, path string) (bool, error)
}

// FieldLister is implemented by sources that keep some top-level JSON
// fields of their resources apart, where they can search them without
// reading the resources: Kylin 5's per-type tables copy "project",
// "model_uuid", "dataflow" and others into columns. A scope finds a
// project's or a model's resources with it instead of reading every
// resource of a folder.
type FieldLister interface {
	// ListField calls fn, in byte order, for each resource directly under
	// folder (ending in "/") whose top-level JSON field is value (a JSON
	// string equal to value). It returns ok == false, without calling fn,
	// when the source keeps no such field for that folder: the caller
	// reads the resources then.
	ListField(ctx context.Context, folder, field, value string, fn func(path string) error) (ok bool, err error)
}

// Walker is implemented by sources that can stream resources with their
// content in byte order of path, much faster than List and Read one by one
// for a database.
type Walker interface {
	// Walk calls fn for each resource whose path starts with prefix, in
	// byte order of path. The Resource's Data (and Zlib) is only valid
	// during the call, unless it is Owned. A resource whose content cannot be had is passed with an error
	// (wrapping ErrContentElsewhere, say) and no Data, and the walk goes on
	// if fn returns nil. Walk stops and returns the first error fn returns.
	Walk(ctx context.Context, prefix string, fn func(Resource, error) error) error
}

// ChangeWalker is implemented by Walkers that can tell, before decoding a
// resource's content, whether it is the same as before: a backup then
// skips decoding and naming the content it already has (a Kylin 5 row is
// inflated to be named, which costs most of a backup's CPU).
type ChangeWalker interface {
	Walker
	// WalkChanges is Walk, with each resource's Change set: a fingerprint
	// of the bytes the backend keeps for the resource (not its timestamp),
	// equal for two resources only if their contents are (a
	// collision-resistant hash, so that content chosen to collide cannot
	// hide a change from a backup), or "" if the backend cannot tell. For
	// each resource with a Change, known(path, change) is called before
	// its content is decoded; when it returns true, fn gets the resource
	// Unread, without Data or Zlib. known is called in byte order of
	// path, on one goroutine, possibly concurrently with fn.
	WalkChanges(ctx context.Context, prefix string, known func(path, change string) bool, fn func(Resource, error) error) error
}

// View is a consistent, read-only view of a metastore: everything read
// through it comes from one point in time.
type View interface {
	Source
	// Close releases the view (ends its transaction).
	Close() error
}

// Viewer is implemented by sources that can give a consistent view (a
// database read in one REPEATABLE READ or SERIALIZABLE transaction), so that
// a Kylin writing during a backup cannot produce a torn snapshot.
type Viewer interface {
	View(ctx context.Context) (View, error)
}

// Tx is a set of writes and deletes that take effect together or not at all.
type Tx interface {
	Sink
	// Commit makes every write and delete of the transaction visible at once.
	Commit(ctx context.Context) error
	// Rollback abandons the transaction. Calling it after Commit does nothing.
	Rollback() error
}

// Transactional is implemented by sinks that can apply a restore atomically
// (a database in one transaction).
type Transactional interface {
	// Begin starts a transaction.
	Begin(ctx context.Context) (Tx, error)
}

// Syncer is implemented by sinks that buffer writes: Sync makes every write
// so far durable (for a folder, an fsync of each of a few files, or one
// syncfs call instead of one fsync per file).
type Syncer interface {
	Sync(ctx context.Context) error
}

// Describer is implemented by backends that can name themselves for humans,
// with any password masked.
type Describer interface {
	// Describe returns a human-readable location, such as a folder path or a
	// JDBC URL with the password masked.
	Describe() string
}

// Notice is something a backend noticed as it worked that the user should
// know but that is no error: a folder's temporary file left by an
// interrupted write, which a listing skipped or a restore removed; a
// timestamp the file system could not store.
type Notice struct {
	// Path is the key of the resource, or of the file, concerned.
	Path string
	// Message says what happened.
	Message string
}

// Noticer is implemented by backends that notice such things.
type Noticer interface {
	// Notices returns what was noticed since the last call, sorted by
	// path, and forgets it.
	Notices() []Notice
}

// Tidier is implemented by sinks that interrupted writes can leave debris
// in (a folder's temporary files after a crash): a restore tidies its
// target.
type Tidier interface {
	// Tidy removes the debris met so far (by listings) that no running
	// write still uses; Notices reports what it removed.
	Tidy(ctx context.Context) error
}

// Closer is implemented by backends that hold resources (connections).
type Closer interface {
	Close() error
}

// ErrInvalidPath is wrapped by errors about resource paths that are not
// acceptable keys: empty, relative, with "." or ".." components, empty
// components, NUL bytes or a trailing slash.
var ErrInvalidPath = errors.New("invalid resource path")

// ErrContentElsewhere is wrapped by Read errors for resources whose content
// the metastore does not hold itself: Kylin's JDBC store pushes content
// larger than kylin.metadata.jdbc.max-cell-size to HDFS and leaves an empty
// row. A backup reports such resources instead of storing them empty.
var ErrContentElsewhere = errors.New("resource content is stored outside the metastore")

// ErrNotExist is fs.ErrNotExist, repeated here so callers can check missing
// resources without importing io/fs.
var ErrNotExist = fs.ErrNotExist

// CheckPath reports whether p is a valid resource key: it starts with a
// slash, has no empty, "." or ".." component, no NUL byte, and does not end
// with a slash. The error wraps ErrInvalidPath and names the problem.
func CheckPath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPath)
	}
	if p[0] != '/' {
		return fmt.Errorf("%w %q: must start with /", ErrInvalidPath, p)
	}
	if p == "/" {
		return fmt.Errorf("%w %q: the root is not a resource", ErrInvalidPath, p)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%w %q: contains a NUL byte", ErrInvalidPath, p)
	}
	for _, c := range strings.Split(p[1:], "/") {
		switch c {
		case "":
			return fmt.Errorf("%w %q: empty path component", ErrInvalidPath, p)
		case ".", "..":
			return fmt.Errorf("%w %q: %q component", ErrInvalidPath, p, c)
		}
	}
	return nil
}

// CheckPrefix reports whether prefix is acceptable to List: "/" or a string
// starting with a slash without NUL bytes or ".." components.
func CheckPrefix(prefix string) error {
	if prefix == "" || prefix[0] != '/' {
		return fmt.Errorf("%w: prefix %q must start with /", ErrInvalidPath, prefix)
	}
	if strings.IndexByte(prefix, 0) >= 0 {
		return fmt.Errorf("%w: prefix %q contains a NUL byte", ErrInvalidPath, prefix)
	}
	for _, c := range strings.Split(prefix[1:], "/") {
		if c == ".." || c == "." {
			return fmt.Errorf("%w: prefix %q has a %q component", ErrInvalidPath, prefix, c)
		}
	}
	return nil
}

// ListEntries lists the entries under prefix. It uses src's own EntryLister
// when it has one; otherwise it reads every resource to learn its size and
// timestamp (and leaves Change empty).
func ListEntries(ctx context.Context, src Source, prefix string, fn func(Entry) error) error {
	if el, ok := src.(EntryLister); ok {
		return el.ListEntries(ctx, prefix, fn)
	}
	return src.List(ctx, prefix, func(p string) error {
		r, err := src.Read(ctx, p)
		if err != nil {
			return err
		}
		return fn(Entry{Path: p, Size: int64(len(r.Data)), Timestamp: r.Timestamp})
	})
}

// Describe names src for humans, using its Describer when it has one.
func Describe(src any) string {
	if d, ok := src.(Describer); ok {
		return d.Describe()
	}
	return fmt.Sprintf("%T", src)
}
