// Package memory is a metastore held in a map, for tests: a fake that behaves
// like the real backends (it passes metastoretest.Run) without a folder or a
// database.
//
// A Store is safe for concurrent use. It copies bytes on the way in and on
// the way out, so callers may reuse their slices. Besides metastore.Store it
// is a metastore.EntryLister, whose Change fingerprint is a version number
// that every write assigns afresh, metastore.Transactional, whose
// transactions buffer their changes and apply them under one lock, and a
// metastore.Describer.
package memory
