package tree

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
)

// TestFingerprintBounded checks that a folder's fingerprint is the SHA-1 of
// its names, objects and timestamps, and that computing it for a large
// folder allocates a bounded buffer, not one of the whole folder (a flat
// folder of 300,000 jobs: over 20 MB).
func TestFingerprintBounded(t *testing.T) {
	const n, off = 50000, len("/execute_output/")
	items := make([]Item, n)
	var whole []byte
	for i := range items {
		items[i] = Item{Key: fmt.Sprintf("/execute_output/%08x-0000-4000-8000-%012x-%02d", i, i*7919, i%3), Timestamp: int64(i)}
		items[i].ID[0], items[i].ID[19] = byte(i), byte(i>>8)
		whole = append(whole, items[i].Key[off:]...)
		whole = append(whole, 0)
		whole = append(whole, items[i].ID[:]...)
		whole = binary.BigEndian.AppendUint64(whole, uint64(items[i].Timestamp))
	}
	if got, want := fingerprint(ItemSlice(items), 0, n, off), sha1.Sum(whole); got != want {
		t.Fatalf("fingerprint %x, want the SHA-1 of the folder's records %x", got, want)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fingerprint(ItemSlice(items), 0, n, off)
	runtime.ReadMemStats(&after)
	const limit = 128 << 10
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Errorf("fingerprint of %d resources (%d bytes of records) allocated %d bytes, want at most %d", n, len(whole), got, limit)
	}
}
