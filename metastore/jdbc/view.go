package jdbc

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"github.com/kylin-tools/metastore/metastore"
)

// View is a consistent, read-only view of the metastore: one REPEATABLE
// READ, READ ONLY transaction on one connection, so that everything read
// through it comes from the moment View returned, whatever is committed
// afterwards. It is safe for concurrent use: calls take turns on the
// connection. Walk holds the connection for the whole walk, so its fn must
// not call the View.
type View struct {
	s      *Store
	conn   *sql.Conn
	mu     sync.Mutex
	closed bool
	src    reader
}

// Compile-time checks of the abilities a View offers.
var (
	_ metastore.View         = (*View)(nil)
	_ metastore.Walker       = (*View)(nil)
	_ metastore.ChangeWalker = (*View)(nil)
	_ metastore.EntryLister  = (*View)(nil)
)

// errViewClosed is returned by a View used after Close.
var errViewClosed = errors.New("jdbc: view is closed")

// View starts a consistent view of the metastore. In PostgreSQL it is a
// transaction BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY whose snapshot
// is taken at once; in MySQL and MariaDB, START TRANSACTION WITH CONSISTENT
// SNAPSHOT, READ ONLY at REPEATABLE READ. Close ends it.
func (s *Store) View(ctx context.Context) (metastore.View, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, s.translate(ctx, "open a consistent view", err)
	}
	var stmts []string
	if s.d.driver == Postgres {
		// The snapshot is taken by the first query of the transaction.
		stmts = []string{"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "SELECT 1"}
	} else {
		stmts = []string{"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"}
	}
	for _, st := range stmts {
		if _, err := conn.ExecContext(ctx, st); err != nil {
			discard(conn)
			return nil, s.translate(ctx, "open a consistent view", err)
		}
	}
	v := &View{s: s, conn: conn}
	v.src = reader{s: s, q: viewQuerier{v}, lock: func() func() { v.mu.Lock(); return v.mu.Unlock }, view: true}
	return v, nil
}

// viewQuerier runs the reader's queries on the view's connection; reader
// calls it with the view locked.
type viewQuerier struct{ v *View }

func (q viewQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if q.v.closed {
		return nil, errViewClosed
	}
	return q.v.conn.QueryContext(ctx, query, args...)
}

// Read is Store.Read in the view.
func (v *View) Read(ctx context.Context, p string) (metastore.Resource, error) {
	return v.src.read(ctx, p)
}

// List is Store.List in the view.
func (v *View) List(ctx context.Context, prefix string, fn func(string) error) error {
	return v.src.list(ctx, prefix, fn)
}

// ListEntries is Store.ListEntries in the view.
func (v *View) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	return v.src.listEntries(ctx, prefix, fn)
}

// Walk is Store.Walk in the view. fn must not call the view.
func (v *View) Walk(ctx context.Context, prefix string, fn func(metastore.Resource, error) error) error {
	return v.src.walk(ctx, prefix, nil, fn)
}

// WalkChanges is Store.WalkChanges in the view. fn and known must not call
// the view.
func (v *View) WalkChanges(ctx context.Context, prefix string, known func(path, change string) bool, fn func(metastore.Resource, error) error) error {
	return v.src.walkChanges(ctx, prefix, known, fn)
}

// Describe names the view's store.
func (v *View) Describe() string { return v.s.Describe() }

// Close ends the view's transaction and gives its connection back.
func (v *View) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	if _, err := v.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		discard(v.conn)
		if classify(err) == classUnreachable {
			return nil // the server ended the transaction with the connection
		}
		return fmt.Errorf("jdbc: close view: %w", v.s.translate(nil, "end the view's transaction", err))
	}
	return v.conn.Close()
}

// discard closes conn and keeps the pool from reusing it (it may be inside
// a transaction).
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
