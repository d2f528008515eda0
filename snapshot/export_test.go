package snapshot

// DirState is dirState, for the tests of package snapshot_test.
var DirState = dirState
