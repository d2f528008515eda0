// Package metastoretest is the conformance suite that every metastore backend
// passes: memory, folder and the database backends alike.
//
// A backend's test calls Run with a function that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		metastoretest.Run(t, func(t *testing.T) metastore.Store {
//			return memory.New()
//		})
//	}
//
// Run checks the contracts written in package metastore: missing paths,
// byte-exact round trips, millisecond timestamps, listing order and prefixes,
// overwrite, delete, Kylin's odd resource names, refusal of invalid paths,
// context cancellation, and the optional EntryLister and Transactional
// abilities when the store has them.
//
// Seed loads a folder of files (such as Kylin's sample metastore) into any
// Sink with deterministic timestamps, for tests that need realistic content.
package metastoretest
