package metastoretest

import (
	"path/filepath"
	"runtime"
)

// Sample returns the absolute path of one of the Kylin test metastores kept
// in the module's testdata folder (see testdata/NOTICE):
//
//   - "kylin-3.1.3": Apache Kylin 3.1.3's test metastore (the 2.x-4.x layout,
//     188 resources);
//   - "kylin5": Apache Kylin 5's test metastore (532 resources);
//   - "kylin5-typed": Kylin 5.0.2's sample metastore in the per-type layout;
//   - "kylin-3.1.3.scopes.json": the expected scopes of the first.
//
// The path is found from this source file, so it works from any package's
// tests in a plain clone of the module. The samples are read-only: copy one
// (Seed) before changing it.
func Sample(name string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("metastoretest: cannot locate the module's testdata")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", name)
}
