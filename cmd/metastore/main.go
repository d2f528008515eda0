// Command metastore backs up and restores the metadata of Apache Kylin and
// Kyligence Enterprise as snapshots in a git repository. See the README.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	// Keep the heap well under 200 MB on large metastores: collect more
	// eagerly near the limit rather than grow (GOMEMLIMIT overrides).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(150 << 20)
	}
	// Below that limit, collect half as often as Go's default: a backup
	// allocates a lot of short-lived buffers, and the limit bounds the heap
	// anyway (GOGC overrides).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	os.Exit(Main(os.Args, os.Stdout, os.Stderr, os.Getenv))
}
