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
// klauspost/compress and can be fed from several goroutines at once; the pack
// and its index become visible together when the writer is committed.
// References are plain files replaced by rename under the repository lock, so
// a crash never leaves an empty or torn reference.
package objects
