package metagen

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
)

// digest hashes every resource of src in path order: a line "PATH\tTIMESTAMP\tSHA-256
// OF CONTENT\n" each, as this shell pipeline does over a folder:
//
//	find . -type f -printf '%P\n' | LC_ALL=C sort | while read f; do
//	  printf '/%s\t%s\t%s\n' "$f" "$(( $(stat -c %.3Y "$f" | tr -d .) ))" "$(sha256sum < "$f" | cut -c1-64)"
//	done | sha256sum
func digest(t *testing.T, src metastore.Source) string {
	t.Helper()
	h := sha256.New()
	err := src.List(context.Background(), "/", func(p string) error {
		r, err := src.Read(context.Background(), p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\t%d\t%x\n", p, r.Timestamp, sha256.Sum256(r.Data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestGenerateGolden pins the default shape's output: the digests were
// taken with the pipeline above from folders written by kylin-metagen
// before it wrote through metastore.Sink (commit e952fcf). A change to
// what Generate or Churn write for a seed changes them: benchmarks compare
// runs on "the same" metastore, so such a change must be deliberate
// (update the digests and say so in BENCHMARKS.md).
func TestGenerateGolden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		n     int
		seed  uint64
		want  string
		churn *ChurnOptions
		after string
	}{
		{300, 5, "324b7144bc05d3ab53574062f1713d3e651535aab82108cb71cf54562ab9760a", nil, ""},
		{2000, 7, "96f9e0105edd730db57436bac2d0cc577e5bdbf1d91e64e2d18314133aadadd8",
			&ChurnOptions{Fraction: 0.05, Seed: 3}, "7ab99654df3ecfd442239436c890518aede0088f0d7b3c9cacee1b1d65a7d956"},
	} {
		s := memory.New()
		if _, err := Generate(ctx, s, Options{Resources: c.n, Seed: c.seed, Workers: 3}); err != nil {
			t.Fatal(err)
		}
		if got := digest(t, s); got != c.want {
			t.Errorf("generate --resources %d --seed %d: digest %s, want %s", c.n, c.seed, got, c.want)
		}
		if c.churn == nil {
			continue
		}
		if _, err := Churn(ctx, s, *c.churn); err != nil {
			t.Fatal(err)
		}
		if got := digest(t, s); got != c.after {
			t.Errorf("then churn --fraction %v --seed %d: digest %s, want %s", c.churn.Fraction, c.churn.Seed, got, c.after)
		}
	}
}
