package tree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRecordSetTake checks take against a set: names taken in order (the
// resources of a folder), out of order, missing, and twice.
func TestRecordSetTake(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var names []string
	for i := 0; i < 2000; i++ {
		names = append(names, fmt.Sprintf("job-%05d", rng.IntN(100000)))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, order := range []string{"sorted", "shuffled"} {
		t.Run(order, func(t *testing.T) {
			r := &recordSet{names: names, used: make([]bool, len(names))}
			var asks []string
			for i := 0; i < 100000; i += 7 {
				asks = append(asks, fmt.Sprintf("job-%05d", i))
			}
			asks = append(asks, names...)
			if order == "sorted" {
				slices.Sort(asks)
			} else {
				rng.Shuffle(len(asks), func(i, j int) { asks[i], asks[j] = asks[j], asks[i] })
			}
			taken := map[string]bool{}
			for _, a := range asks {
				_, has := slices.BinarySearch(names, a)
				want := has && !taken[a]
				if got := r.take(a); got != want {
					t.Fatalf("take(%q) = %v, want %v", a, got, want)
				}
				taken[a] = taken[a] || has
			}
			for i, n := range names {
				if !r.used[i] {
					t.Errorf("%q not marked used", n)
				}
			}
		})
	}
}
