package jdbc

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// TestWalkChanges checks the Change of each resource of a walk (on one
// goroutine and on several): on the Kylin 5 layout, equal in two walks of
// the same rows, different once a row's content changes (even to content
// of the same size, or the same content stored uncompressed); known is
// asked in byte order, before the content is decoded, and a resource it
// knows is passed Unread, without content, in its place. On the Kylin
// 2.5-4.x layout there is no Change and known is never asked.
func TestWalkChanges(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		ctx := t.Context()
		s := openNew(t, db, sc)
		for i := range 40 {
			p := fmt.Sprintf("/p/execute/%03d", i)
			if err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte(fmt.Sprintf(`{"n":%03d}`, i)), Timestamp: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if sc == Schema5 {
			insertRaw(t, s, "/p/null", nil, 1, 0)
		}
		type seen struct {
			change string
			unread bool
			data   string
		}
		walk := func(procs int, known func(p, change string) bool) (map[string]seen, []string) {
			t.Helper()
			prev := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(prev)
			got := map[string]seen{}
			var asked []string
			last := ""
			err := s.WalkChanges(ctx, "/", func(p, change string) bool {
				if p <= last && last != "" {
					t.Errorf("known asked of %s after %s", p, last)
				}
				last = p
				asked = append(asked, p)
				return known(p, change)
			}, func(r metastore.Resource, err error) error {
				if err != nil {
					return err
				}
				if r.Unread != (r.Data == nil) || r.Zlib != nil && r.Unread {
					t.Errorf("%s: Unread %v with Data %q, Zlib %d bytes", r.Path, r.Unread, r.Data, len(r.Zlib))
				}
				got[r.Path] = seen{r.Change, r.Unread, string(r.Data)}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return got, asked
		}
		for _, procs := range []int{1, 4} {
			t.Run(fmt.Sprint("procs=", procs), func(t *testing.T) {
				first, asked := walk(procs, func(string, string) bool { return false })
				if sc == Schema4 {
					if len(asked) != 0 {
						t.Errorf("Kylin 4 layout: known asked of %d resources", len(asked))
					}
					for p, g := range first {
						if g.change != "" || g.unread {
							t.Errorf("Kylin 4 layout: %s has Change %q, Unread %v", p, g.change, g.unread)
						}
					}
					return
				}
				if len(asked) != 40 || first["/p/null"].change != "" {
					t.Errorf("known asked of %d resources (want the 40 not NULL); /p/null's Change %q", len(asked), first["/p/null"].change)
				}
				// The same rows: the same Changes; the known ones unread.
				second, _ := walk(procs, func(p, change string) bool {
					return p >= "/p/execute/020" && change == first[p].change
				})
				for p, g := range second {
					if g.change != first[p].change {
						t.Errorf("%s: Change differs between two walks of the same row", p)
					}
					want := p >= "/p/execute/020" && p != "/p/null"
					if g.unread != want {
						t.Errorf("%s: Unread %v, want %v", p, g.unread, want)
					}
					if !g.unread && g.data != first[p].data {
						t.Errorf("%s: content %q, want %q", p, g.data, first[p].data)
					}
				}
				if len(second) != len(first) {
					t.Errorf("second walk: %d resources, want %d", len(second), len(first))
				}
			})
		}
		if sc == Schema4 {
			return
		}
		before, _ := walk(4, func(string, string) bool { return false })
		// Same size, other content; the same content stored uncompressed.
		if err := s.Write(ctx, metastore.Resource{Path: "/p/execute/007", Data: []byte(`{"n":907}`), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
		raw, _ := rawRow(t, s, "/p/execute/008")
		a := &args{d: s.d}
		if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.main.q+" WHERE "+s.d.keyCond(a, s.main.key, "/p/execute/008"), a.vals...); err != nil {
			t.Fatal(err)
		}
		insertRaw(t, s, "/p/execute/008", inflate(t, raw), 1, 0)
		after, _ := walk(4, func(string, string) bool { return false })
		for p := range before {
			changed := p == "/p/execute/007" || p == "/p/execute/008"
			if (after[p].change != before[p].change) != changed {
				t.Errorf("%s: Change before %x, after %x (content changed: %v)", p, before[p].change, after[p].change, changed)
			}
		}
		if !bytes.Equal([]byte(after["/p/execute/008"].data), []byte(before["/p/execute/008"].data)) {
			t.Errorf("/p/execute/008 stored uncompressed: content %q", after["/p/execute/008"].data)
		}
	})
}

// TestWalkChangesTyped checks the Changes of Kylin 5.0 GA's per-type
// tables: those of the same rows equal, a changed row's different, a
// known row passed Unread.
func TestWalkChangesTyped(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s, _, _ := kylinMetastore(t, db, "5.0.2")
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 30 {
			p := fmt.Sprintf("/PROJECT/p%02d.json", i)
			if err := tx.Write(ctx, metastore.Resource{Path: p, Data: []byte(fmt.Sprintf(`{"uuid":"00000000-0000-0000-0000-0000000000%02d","name":"p%02d"}`, i, i)), Timestamp: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		walk := func(known func(p, change string) bool) map[string]metastore.Resource {
			t.Helper()
			got := map[string]metastore.Resource{}
			err := s.WalkChanges(ctx, "/", known, func(r metastore.Resource, err error) error {
				if err != nil {
					return err
				}
				r.Data = bytes.Clone(r.Data)
				r.Zlib = nil
				got[r.Path] = r
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		first := walk(nil)
		second := walk(func(p, change string) bool { return p < "/PROJECT/p10.json" && change == first[p].Change })
		for p, r := range second {
			if r.Change == "" || r.Change != first[p].Change {
				t.Errorf("%s: Change %x, then %x", p, first[p].Change, r.Change)
			}
			if want := p < "/PROJECT/p10.json"; r.Unread != want || (r.Data == nil) != want {
				t.Errorf("%s: Unread %v with %d bytes, want Unread %v", p, r.Unread, len(r.Data), want)
			}
		}
		if err := s.Write(ctx, metastore.Resource{Path: "/PROJECT/p03.json", Data: []byte(`{"uuid":"00000000-0000-0000-0000-000000000003","name":"p03","x":1}`), Timestamp: 2}); err != nil {
			t.Fatal(err)
		}
		third := walk(nil)
		for p, r := range third {
			if (r.Change != first[p].Change) != (p == "/PROJECT/p03.json") {
				t.Errorf("%s after a change of /PROJECT/p03.json: Change %x, was %x", p, r.Change, first[p].Change)
			}
		}
	})
}
