package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kylin-tools/metastore/metastore"
)

// ErrTxDone is returned by the methods of a transaction that was already
// committed or rolled back (except Rollback, which then does nothing).
var ErrTxDone = errors.New("memory: transaction already committed or rolled back")

// Store is an in-memory metastore. The zero value is not usable: call New.
type Store struct {
	mu      sync.RWMutex
	items   map[string]item
	version uint64 // the version given to the latest write
}

// item is one stored resource.
type item struct {
	data      []byte
	timestamp int64
	version   uint64
}

// Compile-time checks of the abilities a Store offers.
var (
	_ metastore.Store         = (*Store)(nil)
	_ metastore.EntryLister   = (*Store)(nil)
	_ metastore.Transactional = (*Store)(nil)
	_ metastore.Describer     = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{items: make(map[string]item)}
}

// Len returns the number of resources in the store.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.items)
}

// Describe returns "memory".
func (s *Store) Describe() string { return "memory" }

// Read returns a copy of the resource at path. It returns an error wrapping
// fs.ErrNotExist if there is none, and one wrapping metastore.ErrInvalidPath
// if path is not a valid key.
func (s *Store) Read(ctx context.Context, path string) (metastore.Resource, error) {
	if err := metastore.CheckPath(path); err != nil {
		return metastore.Resource{}, fmt.Errorf("memory: read: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metastore.Resource{}, err
	}
	s.mu.RLock()
	it, ok := s.items[path]
	s.mu.RUnlock()
	if !ok {
		return metastore.Resource{}, fmt.Errorf("memory: read %s: %w", path, metastore.ErrNotExist)
	}
	// it.data is never modified in place, so copying outside the lock is safe.
	return metastore.Resource{Path: path, Data: slices.Clone(orEmpty(it.data)), Timestamp: it.timestamp}, nil
}

// Exists reports whether there is a resource at path (see
// metastore.Exister).
func (s *Store) Exists(ctx context.Context, path string) (bool, error) {
	if err := metastore.CheckPath(path); err != nil {
		return false, fmt.Errorf("memory: exists: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.RLock()
	_, ok := s.items[path]
	s.mu.RUnlock()
	return ok, nil
}

// Write stores a copy of r. It returns an error wrapping
// metastore.ErrInvalidPath if r.Path is not a valid key.
func (s *Store) Write(ctx context.Context, r metastore.Resource) error {
	if err := metastore.CheckPath(r.Path); err != nil {
		return fmt.Errorf("memory: write: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	data := slices.Clone(orEmpty(r.Data))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(r.Path, data, r.Timestamp)
	return nil
}

// Delete removes the resource at path; a missing resource is not an error.
// It returns an error wrapping metastore.ErrInvalidPath if path is not a
// valid key.
func (s *Store) Delete(ctx context.Context, path string) error {
	if err := metastore.CheckPath(path); err != nil {
		return fmt.Errorf("memory: delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, path)
	return nil
}

// List calls fn for every path starting with prefix, in byte order. It lists
// the paths present when it was called; fn may read and write the store. It
// returns an error wrapping metastore.ErrInvalidPath for an invalid prefix,
// the context's error once ctx is done, and otherwise the first error fn
// returns.
func (s *Store) List(ctx context.Context, prefix string, fn func(path string) error) error {
	return s.ListEntries(ctx, prefix, func(e metastore.Entry) error { return fn(e.Path) })
}

// ListEntries is List with each resource's size, timestamp and Change, the
// decimal version number of the write that stored the resource. Versions
// come from one counter for the whole store, so a path deleted and written
// again never repeats an earlier Change.
func (s *Store) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	if err := metastore.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("memory: list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	var entries []metastore.Entry
	for p, it := range s.items {
		if strings.HasPrefix(p, prefix) {
			entries = append(entries, metastore.Entry{Path: p, Size: int64(len(it.data)), Timestamp: it.timestamp, Change: strconv.FormatUint(it.version, 10)})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(entries, func(a, b metastore.Entry) int { return strings.Compare(a.Path, b.Path) })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Begin starts a transaction. Its writes and deletes are buffered, invisible
// to readers of the store, until Commit applies them all under one lock.
func (s *Store) Begin(ctx context.Context) (metastore.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Tx{store: s}, nil
}

// put stores data (owned by the store from now on) at path with a new
// version. s.mu must be held for writing.
func (s *Store) put(path string, data []byte, timestamp int64) {
	s.version++
	s.items[path] = item{data: data, timestamp: timestamp, version: s.version}
}

// Tx is a transaction of a Store, returned by Begin. It is safe for
// concurrent use.
type Tx struct {
	store *Store

	mu   sync.Mutex
	ops  []op // in the order they were made
	done bool
}

// op is one buffered change of a transaction.
type op struct {
	path      string
	data      []byte
	timestamp int64
	delete    bool
}

// Write buffers a copy of r. It returns an error wrapping
// metastore.ErrInvalidPath if r.Path is not a valid key, and ErrTxDone after
// Commit or Rollback.
func (tx *Tx) Write(ctx context.Context, r metastore.Resource) error {
	if err := metastore.CheckPath(r.Path); err != nil {
		return fmt.Errorf("memory: write: %w", err)
	}
	return tx.add(ctx, op{path: r.Path, data: slices.Clone(orEmpty(r.Data)), timestamp: r.Timestamp})
}

// Delete buffers the removal of path. It returns an error wrapping
// metastore.ErrInvalidPath if path is not a valid key, and ErrTxDone after
// Commit or Rollback.
func (tx *Tx) Delete(ctx context.Context, path string) error {
	if err := metastore.CheckPath(path); err != nil {
		return fmt.Errorf("memory: delete: %w", err)
	}
	return tx.add(ctx, op{path: path, delete: true})
}

func (tx *Tx) add(ctx context.Context, o op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return ErrTxDone
	}
	tx.ops = append(tx.ops, o)
	return nil
}

// Commit applies every buffered change at once: a reader of the store sees
// all of them or none. It returns ErrTxDone after Commit or Rollback, and the
// context's error, leaving the store as it was, if ctx is done.
func (tx *Tx) Commit(ctx context.Context) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return ErrTxDone
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tx.done = true
	s := tx.store
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range tx.ops {
		if o.delete {
			delete(s.items, o.path)
		} else {
			s.put(o.path, o.data, o.timestamp)
		}
	}
	tx.ops = nil
	return nil
}

// Rollback abandons the buffered changes. After Commit or Rollback it does
// nothing and returns nil.
func (tx *Tx) Rollback() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.done = true
	tx.ops = nil
	return nil
}

// orEmpty returns b, or an empty non-nil slice for nil, so that a resource
// written with nil data reads back as empty data.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
