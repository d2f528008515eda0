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
// Sink with deterministic timestamps, for tests that need realistic content;
// MemoryCopy copies any source into a fresh memory store; WriteFile writes
// one file, creating its folders, for tests that build folders by hand.
//
// Tests that need a real database use one rig (db.go): Databases names the
// servers the METASTORE_TEST_*_DSN variables point at, Database.Require skips
// (or, with METASTORE_REQUIRE_DB=1, fails) when one is missing, NewID makes a
// random table identifier and SQL.DropTables removes a test's tables.
// LoopbackServer and SilentServer stand in for a server that accepts
// connections and never answers, for timeout tests; ClosedPort for one that
// is down.
package metastoretest
