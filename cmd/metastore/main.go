// Command metastore backs up and restores the metadata of Apache Kylin and
// Kyligence Enterprise as snapshots in a git repository. See the README.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	// Keep the process under 250 MB on large metastores (issue 16's budget
	// at a million resources): a 200 MiB soft limit on the heap leaves
	// about 40 MB for the rest, and the collector works harder near it
	// rather than grow (GOMEMLIMIT overrides). 150 MiB cost a million-
	// resource unchanged backup, whose live heap is about 160 MB, 40% more
	// CPU in back-to-back collections (BENCHMARKS.md, "The soft memory limit").
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(200 << 20)
	}
	// Below that limit, collect half as often as Go's default: a backup
	// allocates a lot of short-lived buffers, and the limit bounds the heap
	// anyway (GOGC overrides).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	os.Exit(Main(os.Args, os.Stdout, os.Stderr, os.Getenv))
}
