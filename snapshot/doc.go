// Package snapshot holds the use cases of the tool: back up a metastore (or
// one project or cube of it) as a snapshot, list and resolve snapshots,
// restore a snapshot at system, project or cube scope, and import Kylin's own
// backup folders.
//
// It speaks in resources (package metastore) and scopes (package scope);
// package objects stores the snapshots as git commits. A snapshot opened
// with Repository.Open is itself a metastore.Source, so a restore is a copy
// from one Source into a Sink and a diff compares two Sources.
//
// Every write to the repository holds its lock, writes objects into one new
// pack and moves a reference last, so a snapshot is visible only when it is
// complete. FORMAT.md at the root of the module describes the repository
// format.
package snapshot
