package objects

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// deltaText returns a maker of random JSON-like text of n bytes.
func deltaText(rng *rand.Rand) func(n int) []byte {
	return func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefgh {}\":,\n"[rng.IntN(15)]
		}
		return b
	}
}

// deltaTargets returns targets for deltas from base: longer, sharing its
// tail, shorter, repeating it, and new text.
func deltaTargets(text func(int) []byte, base []byte) [][]byte {
	size := len(base)
	return [][]byte{
		append(append([]byte{}, base...), "tail"...),
		append(text(10), base[size/3:]...),
		base[:size/2],
		bytes.Repeat(base, 3),
		text(size / 2),
	}
}

// TestApplyDelta checks that applyDelta makes what go-git's PatchDelta
// makes from deltas of every kind (copies of up to and over 64 KiB,
// inserts, a target larger and smaller than its base), allocates the result
// once at its size (up to twice its base's), and refuses a delta that does
// not fit its base.
func TestApplyDelta(t *testing.T) {
	text := deltaText(rand.New(rand.NewPCG(1, 2)))
	for i, size := range []int{1, 100, 5000, 70000, 300000} {
		base := text(size)
		for j, target := range deltaTargets(text, base) {
			t.Run(fmt.Sprintf("%d/%d", i, j), func(t *testing.T) {
				delta := packfile.DiffDelta(base, target)
				want, err := packfile.PatchDelta(base, delta)
				if err != nil {
					t.Fatal(err)
				}
				got, err := applyDelta(base, delta)
				if err != nil || !bytes.Equal(got, want) || !bytes.Equal(got, target) {
					t.Fatalf("applyDelta: %d bytes, %v; want %d bytes", len(got), err, len(want))
				}
				if len(target) <= 2*len(base) && cap(got) != len(got) {
					t.Errorf("result of %d bytes has capacity %d", len(got), cap(got))
				}
			})
		}
	}
	base := []byte("0123456789")
	for name, delta := range map[string][]byte{
		"wrong base size":        {9, 3, 0x91, 0, 3},
		"copy past the base":     {10, 3, 0x91, 8, 3},
		"longer than it claims":  {10, 3, 0x91, 0, 4},
		"shorter than it claims": {10, 5, 0x91, 0, 3},
		"insert past the end":    {10, 3, 3, 'a'},
		"command zero":           {10, 3, 0},
		"truncated copy":         {10, 3, 0x91, 0},
		"huge claimed size":      {10, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x91, 0, 3},
	} {
		if got, err := applyDelta(base, delta); !errors.Is(err, errBadDelta) {
			t.Errorf("%s: %q, %v; want an invalid delta", name, got, err)
		}
	}
}

// TestDeltaRebuilds checks that deltaRebuilds says what comparing
// applyDelta's result with the target says (for the deltas go-git makes,
// targets changed by a byte, cut short or lengthened, and deltas damaged
// at every byte), without making the result: it allocates nothing.
func TestDeltaRebuilds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	text := deltaText(rng)
	want := func(base, delta, target []byte) bool {
		out, err := applyDelta(base, delta)
		return err == nil && bytes.Equal(out, target)
	}
	checked := 0
	for _, size := range []int{1, 100, 5000, 70000, 300000} {
		base := text(size)
		for _, target := range deltaTargets(text, base) {
			if len(target) == 0 {
				continue
			}
			delta := packfile.DiffDelta(base, target)
			if !deltaRebuilds(base, delta, target) {
				t.Fatalf("base %d bytes: the delta to a %d-byte target does not rebuild it", size, len(target))
			}
			if n := testing.AllocsPerRun(5, func() { deltaRebuilds(base, delta, target) }); n != 0 {
				t.Errorf("base %d bytes: deltaRebuilds allocated %.0f times, want none", size, n)
			}
			others := [][]byte{target[:len(target)-1], append(append([]byte{}, target...), 'x')}
			for _, at := range []int{0, len(target) / 2, len(target) - 1} {
				changed := append([]byte{}, target...)
				changed[at] ^= 1
				others = append(others, changed)
			}
			for _, other := range others {
				if deltaRebuilds(base, delta, other) {
					t.Errorf("base %d bytes: the delta rebuilds a %d-byte target it does not make", size, len(other))
				}
			}
			for k := 0; k < 3*len(delta) && k < 900; k++ {
				i := k % len(delta)
				damaged := append([]byte{}, delta...)
				damaged[i] ^= byte(1 + rng.IntN(255))
				if got, w := deltaRebuilds(base, damaged, target), want(base, damaged, target); got != w {
					t.Fatalf("base %d bytes, delta damaged at byte %d: deltaRebuilds %v, applyDelta and compare %v", size, i, got, w)
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Errorf("only %d damaged deltas checked", checked)
	}
}
