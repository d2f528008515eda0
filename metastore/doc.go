// Package metastore is the vocabulary shared by every place Kylin metadata
// lives: a Resource (path, bytes, millisecond timestamp), the small Source
// and Sink contracts, and optional abilities discovered by type assertion
// (EntryLister, Transactional, Syncer, Describer, Noticer, Tidier).
//
// Backends live in subpackages: folder (Kylin's FileResourceStore layout and
// Kylin's backup folders), memory (for tests) and the database backends.
// Package metastoretest holds the conformance suite every backend passes.
package metastore
