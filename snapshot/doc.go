// Package snapshot holds the use cases of the tool: it backs up a metastore
// (or one project or cube of it) as a snapshot, imports Kylin's own backup
// folders, restores a snapshot at system, project or cube scope, lists,
// resolves and tags snapshots, shows what one holds, compares snapshots and
// metastores, tells a resource's history, verifies the repository and
// forgets the snapshots a retention policy does not keep.
//
// It speaks in resources (package metastore) and scopes (package scope);
// package objects stores the snapshots as git commits. The snapshot tree
// format (resource trees and their timestamps mirror, FORMAT.md) has a
// package of its own, snapshot/internal/tree, through which every use case
// reads and writes trees. A snapshot opened with Repository.Open is itself a
// metastore.Source, so a restore is a copy from one Source into a Sink and a
// diff compares two Sources.
//
// # Use cases and their files
//
//	Backup                   backup.go
//	Import                   import.go
//	Restore                  restore.go, restore_plan.go, restore_apply.go, safety.go
//	Log                      log.go
//	Resolve                  resolve.go
//	Tag, DeleteTag           refs.go
//	Open, Snapshot           snapshot.go (a snapshot as a metastore.Source and Walker), readdir.go
//	Summarize                show.go
//	Diff                     diff.go, diff_sides.go, diff_details.go
//	History, ProjectHistory  history.go
//	Verify                   verify.go
//	Forget, UndoForget       forget.go, forget_policy.go (Policy),
//	                         forget_rewrite.go, idmap.go
//	CheckSeparate            separate.go
//	Remotes, AddRemote, ...  remote.go (configuration, resolving a remote, the remoteEnd of git and S3)
//	Push                     push.go, remote_git.go, remote_s3.go
//	Pull                     pull.go, remote_git.go, remote_s3.go
//	VerifyRemote             remote_verify.go
//	Instance, Instances      instance.go (log --instance: this repository's and pulled snapshots)
//	Prune                    prune.go (the repack is objects.Repack)
//
// Beside them: id.go (ID, a snapshot's id), record.go (the recording steps that Backup, Import and the
// safety snapshot of a restore share), scan.go (reading a source into a
// pack; its result, scanlist.go; the trees written during it,
// scanstream.go), commit.go (a snapshot's commit message and trailers), info.go
// (Info), caches.go (the change cache, changecache.go, read as a stream for
// a scoped scan in cachestream.go, and the tree memo, treememo.go, saved
// through atomicfile.go), progress.go, notices.go,
// repo.go (Open, Create, the lock) and errors.go. Subpackages:
// internal/tree (the snapshot tree format: names, builder, the cached
// reader with lookup, walk, compare and verify's strict mode) and jsondiff
// (the field-level JSON diff behind Diff's details and History).
//
// # A backup
//
// Backup resolves the scope (scope.Resolve) on one consistent view of the
// source, when the source can give one (a database transaction), then
// records it (recordSource):
//
//  1. Take the repository lock, start reading the source's change cache in
//     the background, and start a pack that absorbs the repository's small
//     packs, so that new and previous versions share it (newPack).
//  2. Scan the source (scan): list it (or read the scope's members). A
//     resource the change cache vouches for (same change fingerprint and
//     size, blob in the repository) is taken from it unread; the others are
//     read and stored by Options.Workers goroutines while the listing goes
//     on. A database that walks its rows in one pass streams them instead;
//     a Kylin 5 database (a metastore.ChangeWalker) does not inflate the
//     rows whose stored bytes' fingerprint the cache knows (walkCache).
//     When the listing of a whole source leaves a folder of the root, once
//     a resource differed from the cache (at once in a first backup), the
//     scan waits for the reads before it, writes the trees of the folders
//     listed and their entries of the next change cache, and frees their
//     records (scanStream, scanstream.go).
//  3. Write the change cache of the other records under a temporary name
//     (fileCaches.stage, or the stream's; the snapshot's id is filled in
//     once it is recorded), then build their trees (tree.Builder): each
//     folder's tree and timestamps tree, bottom up, the records of each
//     folder freed once its trees are written (scanList.release); a folder
//     whose content did not change since the last backup comes from the tree
//     memo without being encoded again, and the previous version of each
//     tree is the delta base of the new one. Then the root tree and the
//     commit, with its trailers (commit.go).
//  4. Publish (publish): finish the pack (index, then pack, renamed into
//     place), move the scope's reference, add the tags, remove the packs the
//     new one absorbed; then put the change cache and tree memo, written
//     under temporary names, in place.
//
// Nothing is visible until the reference moves: a crash leaves the previous
// state, and at most temporary files the next writer removes.
//
// # A restore
//
// Restore writes nothing to the target before its last step:
//
//  1. What the target should hold (restore.wanted): the snapshot's resources
//     in the scope, keyed by the path they get in the target (a cube
//     restored into another project is moved there, and merged into its
//     project file), and the target's resources in that scope now.
//  2. The plan, under the lock (restore.plan): the target's resources in
//     scope are read and stored in a new pack (only hashed in a dry run),
//     the /UUID rule applied (the target keeps its /UUID; a snapshot of
//     another metastore is refused unless allowed), and every resource
//     planned as added, changed, unchanged, deleted (AfterTruncate) or kept
//     (used by another project or cube). A resource in the way of a write
//     (a file where the snapshot has a folder, or the reverse) is deleted
//     first, or refuses the restore. A dry run stops here.
//  3. The safety snapshot (safety.go): the target's state read in step 2,
//     recorded on the safety/<scope> branch, so that restoring it undoes the
//     restore.
//  4. Apply (apply): the deletes that free the path of a write, the writes
//     (project files last, so that Kylin never sees a project naming a cube
//     that is not there yet), the other deletes; one transaction for a
//     database, a sync for a folder. A failure here is an *ApplyError
//     naming the safety snapshot.
package snapshot
