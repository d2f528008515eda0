package jdbc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
)

// initialState writes a small metastore and returns its resources.
func initialState(t *testing.T, s *Store) []metastore.Resource {
	t.Helper()
	rs := []metastore.Resource{
		{Path: "/UUID", Data: []byte("\x00\x24b3d1b2e0-0000-4000-8000-000000000000"), Timestamp: 1},
		{Path: "/cube/keep.json", Data: []byte(`{"name":"keep"}`), Timestamp: 2},
		{Path: "/execute_output/job-01", Data: []byte(`{"status":"SUCCEED"}`), Timestamp: 3},
		{Path: "/project/p.json", Data: []byte(`{"name":"p"}`), Timestamp: 4},
	}
	for _, r := range rs {
		if err := s.Write(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	return rs
}

// assertState fails the test unless s holds exactly want.
func assertState(t *testing.T, s *Store, want []metastore.Resource, when string) {
	t.Helper()
	var got []metastore.Resource
	if err := s.Walk(context.Background(), "/", func(r metastore.Resource, err error) error {
		r.Data = clone(r.Data)
		got = append(got, r)
		return err
	}); err != nil {
		t.Fatalf("%s: Walk: %v", when, err)
	}
	if len(got) != len(want) {
		var paths []string
		for _, r := range got {
			paths = append(paths, r.Path)
		}
		t.Fatalf("%s: the store holds %d resources (%q), want %d", when, len(got), paths, len(want))
	}
	for i := range want {
		if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) || got[i].Timestamp != want[i].Timestamp {
			t.Errorf("%s: resource %d = (%s, %q, %d), want (%s, %q, %d)", when, i, got[i].Path, got[i].Data, got[i].Timestamp, want[i].Path, want[i].Data, want[i].Timestamp)
		}
	}
}

// bigChange writes n resources (several batches) into tx, rewrites and
// deletes the initial ones.
func bigChange(ctx context.Context, tx metastore.Tx, n int) error {
	for i := range n {
		p := fmt.Sprintf("/dict/T/C/%05d.dict", i)
		if i%3 == 0 {
			p = fmt.Sprintf("/execute_output/job-%05d", i)
		}
		if err := tx.Write(ctx, metastore.Resource{Path: p, Data: bytes.Repeat([]byte{byte(i)}, 1+i%700), Timestamp: int64(i)}); err != nil {
			return err
		}
	}
	if err := tx.Write(ctx, metastore.Resource{Path: "/project/p.json", Data: []byte(`{"changed":true}`), Timestamp: 99}); err != nil {
		return err
	}
	for _, p := range []string{"/cube/keep.json", "/execute_output/job-01"} {
		if err := tx.Delete(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// TestTxAllOrNothing checks that a transaction that is rolled back, whose
// context is canceled or whose connection dies leaves the database as it
// was, after sending several batches.
func TestTxAllOrNothing(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		s := openNew(t, db, sc)
		want := initialState(t, s)

		t.Run("Rollback", func(t *testing.T) {
			tx, err := s.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := bigChange(t.Context(), tx, 2500); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(); err != nil {
				t.Errorf("Rollback: %v", err)
			}
			assertState(t, s, want, "after Rollback")
			if err := tx.Commit(t.Context()); err == nil {
				t.Error("Commit after Rollback succeeded")
			}
		})

		t.Run("ContextCanceled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			tx, err := s.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := bigChange(ctx, tx, 1200); err != nil {
				t.Fatal(err)
			}
			cancel()
			err = tx.Commit(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Commit with a canceled context: %v, want context.Canceled", err)
			}
			tx.Rollback()
			assertState(t, s, want, "after a canceled transaction")
		})

		t.Run("ConnectionKilled", func(t *testing.T) {
			ctx := t.Context()
			mtx, err := s.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tx := mtx.(*Tx)
			if err := bigChange(ctx, tx, 1200); err != nil {
				t.Fatal(err)
			}
			// Kill the transaction's connection from another one, as a
			// crash or a network failure would.
			var id int64
			q, kill := "SELECT CONNECTION_ID()", "KILL %d"
			if db.driver == Postgres {
				q, kill = "SELECT pg_backend_pid()", "SELECT pg_terminate_backend(%d)"
			}
			tx.mu.Lock()
			tx.wait() // the batch being sent holds the connection
			err = tx.tx.QueryRowContext(ctx, q).Scan(&id)
			tx.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			execSQL(t, s, fmt.Sprintf(kill, id))
			time.Sleep(100 * time.Millisecond)
			err = tx.Commit(ctx)
			if !errors.Is(err, ErrUnreachable) && !errors.Is(err, ErrDatabase) {
				t.Errorf("Commit on a killed connection: %v, want an error wrapping ErrUnreachable", err)
			}
			if err == nil {
				t.Fatal("Commit on a killed connection succeeded")
			}
			assertState(t, s, want, "after the transaction's connection was killed")
		})

		t.Run("ProcessKilled", func(t *testing.T) {
			// A helper process begins a restore-like transaction, sends
			// batches and is killed with SIGKILL before it commits.
			cfg := s.cfg
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTxProcess$")
			cmd.Env = append(os.Environ(), "JDBC_HELPER_TX="+strings.Join([]string{string(db.driver), cfg.Identifier, string(sc)}, " "))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(out)
			ready := false
			for lines.Scan() {
				if lines.Text() == "SENT" {
					ready = true
					break
				}
			}
			cmd.Process.Kill()
			cmd.Wait()
			if !ready {
				t.Fatal("the helper process did not get to send its batches")
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				// The server notices the lost connection and rolls back; the
				// rows the transaction wrote were never visible.
				var got []string
				s.List(t.Context(), "/", func(p string) error { got = append(got, p); return nil })
				if len(got) == len(want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			assertState(t, s, want, "after the restoring process was killed")
		})
	})
}

// TestHelperTxProcess is the process TestTxAllOrNothing/ProcessKilled kills:
// it writes into a transaction, says SENT, and waits.
func TestHelperTxProcess(t *testing.T) {
	spec := os.Getenv("JDBC_HELPER_TX")
	if spec == "" {
		t.Skip("only run as a helper process")
	}
	f := strings.Fields(spec)
	db := testDB{driver: Driver(f[0])}
	env := envPostgres
	if db.driver == MySQL {
		env = envMySQL
	}
	db.params = splitParams(t, os.Getenv(env))
	cfg, err := ConfigFromParams(f[1], db.params)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bigChange(ctx, tx, 1500); err != nil {
		t.Fatal(err)
	}
	fmt.Println("SENT")
	time.Sleep(time.Minute)
}
