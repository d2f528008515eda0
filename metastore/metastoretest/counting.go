package metastoretest

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/kylin-tools/metastore/metastore"
)

// CountingSource wraps a metastore.Source and records what is read and
// listed through it, for tests of what an operation costs. It has the
// optional abilities EntryLister, Exister and Describer: those of the
// wrapped source, forwarded (an Exists or ListEntries of the source is no
// read), or else done with List and Read, which it records.
type CountingSource struct {
	src metastore.Source

	mu    sync.Mutex
	reads []string
	lists []string
}

// Counting returns src wrapped in a CountingSource.
func Counting(src metastore.Source) *CountingSource { return &CountingSource{src: src} }

// Reads returns the keys read so far, in order.
func (c *CountingSource) Reads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reads)
}

// Lists returns the prefixes listed so far (by List or ListEntries), in
// order.
func (c *CountingSource) Lists() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lists)
}

func (c *CountingSource) note(list *[]string, s string) {
	c.mu.Lock()
	*list = append(*list, s)
	c.mu.Unlock()
}

// Read reads path from the wrapped source and records it.
func (c *CountingSource) Read(ctx context.Context, path string) (metastore.Resource, error) {
	c.note(&c.reads, path)
	return c.src.Read(ctx, path)
}

// List lists the wrapped source and records the prefix.
func (c *CountingSource) List(ctx context.Context, prefix string, fn func(string) error) error {
	c.note(&c.lists, prefix)
	return c.src.List(ctx, prefix, fn)
}

// ListEntries is the wrapped source's, or List and Read.
func (c *CountingSource) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	if el, ok := c.src.(metastore.EntryLister); ok {
		c.note(&c.lists, prefix)
		return el.ListEntries(ctx, prefix, fn)
	}
	return metastore.ListEntries(ctx, plainSource{c}, prefix, fn)
}

// Exists is the wrapped source's, or a Read.
func (c *CountingSource) Exists(ctx context.Context, path string) (bool, error) {
	if ex, ok := c.src.(metastore.Exister); ok {
		return ex.Exists(ctx, path)
	}
	if err := metastore.CheckPath(path); err != nil {
		return false, err
	}
	_, err := c.Read(ctx, path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, metastore.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// Describe describes the wrapped source.
func (c *CountingSource) Describe() string { return metastore.Describe(c.src) }

// plainSource hides every optional ability of a source.
type plainSource struct{ metastore.Source }
