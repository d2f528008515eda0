package api

import (
	"context"

	"github.com/kylin-tools/metastore/metastore"
)

// WithMetastore opens the live metastore, calls fn with it and its
// description (password masked), and closes it.
func (e *Env) WithMetastore(ctx context.Context, fn func(st metastore.Store, desc string) error) error {
	st, desc, err := e.OpenMetastore(ctx, false, "")
	if err != nil {
		return err
	}
	defer closeStore(st)
	return fn(st, desc)
}
