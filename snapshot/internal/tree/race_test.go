//go:build race

package tree

// raceEnabled: the race detector is on, and allocation counts include its
// shadow bookkeeping (tests of bytes allocated skip their bounds).
const raceEnabled = true
