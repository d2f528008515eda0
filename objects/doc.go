// Package objects is the git object store behind a snapshot repository: blobs,
// trees and commits in a bare git repository, and the references that name
// them.
//
// It is the only package of the module that imports go-git, and it knows
// nothing of Kylin. Reading goes through go-git's filesystem storage, so any
// repository that git itself wrote (loose objects, packs with deltas,
// packed-refs) can be read. Writing works below go-git's defaults: a
// PackWriter streams the new objects of one operation into a single packfile,
// skips objects the repository already has, compresses with
// klauspost/compress (or stores a zlib stream its caller already has:
// WriteZlib) and can be fed from several goroutines at once; the pack
// and its index become visible together when the writer is committed.
// References are plain files replaced by rename under the repository lock, so
// a crash never leaves an empty or torn reference.
//
// # Files
//
//   - repo.go, open.go, lock.go, config.go, refs.go: a repository, its lock,
//     its git config and its references.
//   - pack.go, packindex.go, packread.go, idx.go: writing and reading packs
//     and their indexes (packset.go: the writer's set of ids and the index
//     it writes); consolidate.go: merging small packs, a step of its
//     own that the writer's caller asks for (PlanMerge, Absorb, RemovePacks).
//   - tree.go, treedelta.go, commit.go, id.go: trees, tree deltas (from a
//     tree in memory or read as a stream), commits, object ids; marks.go:
//     a compact set of the repository's objects (a bit per packed object).
//   - sendpack.go (WritePack: a pack of chosen objects, reusing stored
//     entries), recvpack.go (ReceivePack: a received pack checked and
//     indexed, as git index-pack does), reach.go (what a remote lacks:
//     Missing, MissingFrom, Closure, CheckConnected, IsAncestor).
//
// Subpackages: gitremote (go-git's file, ssh and http transports), s3
// (files in an S3 bucket; it knows nothing of git) and remotetest (real
// servers on loopback for tests: sshd, git http-backend, versitygw, and a
// proxy that cuts connections).
package objects
