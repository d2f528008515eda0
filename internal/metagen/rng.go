package metagen

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

// newRand returns a PCG generator for one purpose: the same (seed, purpose)
// always yields the same sequence. Every resource draws its content from a
// generator keyed by its own path, so the bytes of a file do not depend on
// the order in which workers write files.
func newRand(seed uint64, purpose string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	return rand.New(rand.NewPCG(seed, h.Sum64()^0x9e3779b97f4a7c15))
}

// rendered returns what render makes of the resource at path, given the
// random source newRand(seed, path): a resource's bytes depend only on the
// seed and its path. An error names the path.
func rendered(seed uint64, path string, render func(*rand.Rand) ([]byte, error)) ([]byte, error) {
	data, err := render(newRand(seed, path))
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", path, err)
	}
	return data, nil
}

// newUUID draws a random (version 4 shaped) UUID string from r.
func newUUID(r *rand.Rand) string {
	var b [16]byte
	lo, hi := r.Uint64(), r.Uint64()
	for i := range 8 {
		b[i] = byte(lo >> (8 * i))
		b[8+i] = byte(hi >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// pick returns a random element of xs, which must not be empty.
func pick[T any](r *rand.Rand, xs []T) T {
	return xs[r.IntN(len(xs))]
}

// between returns a random int64 in [lo, hi]; hi < lo yields lo.
func between(r *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.Int64N(hi-lo+1)
}

// logNormal draws exp(N(mu, sigma)) clamped to [lo, hi].
func logNormal(r *rand.Rand, mu, sigma float64, lo, hi int) int {
	v := math.Exp(mu + sigma*r.NormFloat64())
	if v < float64(lo) {
		return lo
	}
	if v > float64(hi) {
		return hi
	}
	return int(v)
}

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool {
	return r.Float64() < p
}

// allocate splits total into len(weights) non-negative integers
// proportional to weights (largest remainder method); the parts sum to total.
func allocate(total int, weights []float64) []int {
	out := make([]int, len(weights))
	var sum float64
	for _, w := range weights {
		sum += w
	}
	if sum == 0 || total <= 0 {
		return out
	}
	type rem struct {
		i int
		f float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(total) * w / sum
		out[i] = int(exact)
		given += out[i]
		rems[i] = rem{i, exact - float64(out[i])}
	}
	// Hand out the remainder to the largest fractions; ties go to the lower
	// index, so the result is deterministic.
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.f, a.f) })
	for j := 0; given < total; j++ {
		out[rems[j%len(rems)].i]++
		given++
	}
	return out
}
