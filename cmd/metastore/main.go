// Command metastore backs up and restores the metadata of Apache Kylin and
// Kyligence Enterprise as snapshots in a git repository. See the README.
package main

import "os"

func main() {
	os.Exit(Main(os.Args, os.Stdout, os.Stderr, os.Getenv))
}
