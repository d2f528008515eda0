// Package tree is the snapshot tree format (FORMAT.md, "Snapshot tree"):
// the resources at their keys, folders as git trees, and under
// ".metastore/timestamps" a mirror of the resource folders whose entries
// "<name>@<milliseconds>" record each resource's timestamp. It knows git
// objects (package objects) and nothing of Kylin, metastores or snapshots'
// commits.
//
//   - names.go: the names of the format (RecordsDir, TimestampsDir,
//     MirrorEntry, ParseMirrorEntry, EscapeDir, MirrorPath, IsReserved).
//   - build.go: Builder writes the trees of a snapshot from its resources,
//     with the delta bases of the previous snapshot's folders and a Memo of
//     unchanged folders; large trees are stored in the background, the
//     largest in turn, and a flat folder's tree before its timestamps mirror
//     is encoded, so that one big encoding is held at a time; Passed tells
//     the caller which resources it is done with, folder by folder, and a
//     snapshot's resources may come in parts of whole root folders (Add,
//     then Finish writes the root).
//   - reader.go: Reader reads the trees of one repository and shares the
//     folders between every snapshot it opens, by id; Root is one
//     snapshot's tree, with Lookup, Exists, Walk, Folder and Timestamps.
//   - dir.go, search.go: a folder of a Reader, searched in place for its
//     first lookups (the first search reads the whole folder once, noting
//     the names listed twice and a mark every 32 entries; later ones start
//     at a mark and stop past the name), decoded for walks and many lookups.
//   - stream.go: a walk reads a big folder (256 KiB of tree: Kylin's
//     /execute of a busy metastore) and its timestamp records entry by
//     entry, and keeps neither, in the snapshot or the Reader.
//   - compare.go: Reader.Compare walks two snapshots' trees together and
//     skips the folders whose tree and timestamps tree are both unchanged.
//   - check.go: Checker, the strict mode of verify: every tree read afresh
//     and checked, every problem reported rather than refused.
//
// Every reader refuses what the format never holds: an entry that is
// neither a file nor a folder, a name listed twice in a folder, two
// timestamp records of one resource, a resource without one.
package tree
