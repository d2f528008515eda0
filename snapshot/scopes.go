package snapshot

import (
	"context"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
)

func scopeSystem() scope.Scope { return scope.SystemScope() }

func scopeCubes(src metastore.Source) ([]string, error) {
	return scope.Cubes(context.Background(), src)
}
