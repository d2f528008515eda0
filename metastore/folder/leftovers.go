package folder

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kylin-tools/metastore/metastore"
)

// tracker is what a Store learns as it works, shared by its copies: the
// folders it tidied and the mode of new files there, the temporary files
// of interrupted writes it met, and the notices it owes the caller.
type tracker struct {
	mu        sync.Mutex
	folders   map[string]*folderState
	making    map[string]chan struct{} // folders a Write is making: closed when made
	leftovers map[string]bool          // temporary file met -> removed
	notices   []metastore.Notice
	coarse    bool // a timestamp was rounded to the file system's precision
}

// folderState is what a Store learnt about one folder.
type folderState struct {
	tidied    sync.Once // its leftovers removed
	ownerOnce sync.Once
	owner     owner // of a new file there
	ownerErr  error
}

func newTracker() *tracker {
	return &tracker{folders: map[string]*folderState{}, making: map[string]chan struct{}{}, leftovers: map[string]bool{}}
}

// beingMade returns a channel that is closed once a Write of this store
// has made folder key, if one is making it now; nil otherwise.
func (t *tracker) beingMade(key string) chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.making[key]
}

// startMaking registers that the caller makes folder key and returns
// done, to call once the folder has its mode and owner; or, when another
// Write is making it already, mine is false and done is nil.
func (t *tracker) startMaking(key string) (done func(), mine bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.making[key]; ok {
		return nil, false
	}
	ch := make(chan struct{})
	t.making[key] = ch
	return func() {
		t.mu.Lock()
		delete(t.making, key)
		t.mu.Unlock()
		close(ch)
	}, true
}

// folder returns the state of the folder key ("" for the root).
func (t *tracker) folder(key string) *folderState {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.folders[key]
	if f == nil {
		f = &folderState{}
		t.folders[key] = f
	}
	return f
}

// met records the temporary file p found by a listing.
func (t *tracker) met(p string) {
	t.mu.Lock()
	if _, ok := t.leftovers[p]; !ok {
		t.leftovers[p] = false
	}
	t.mu.Unlock()
}

// removed records that the temporary file p was removed.
func (t *tracker) removed(p string) {
	t.mu.Lock()
	t.leftovers[p] = true
	t.mu.Unlock()
}

// clamped records that the file system stored the timestamp of p as got
// instead of want: beyond its range (ext4 keeps 1901 to 2446), or, within
// two seconds, finer than its precision (FAT keeps two seconds), which is
// told once per store, since it applies to every file.
func (t *tracker) clamped(p string, want, got int64) {
	const layout = "2006-01-02T15:04:05.000Z07:00"
	why := "is beyond what the file system can store"
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := want - got; -2000 < d && d < 2000 {
		if t.coarse {
			return
		}
		t.coarse = true
		why = "is finer than the file system's precision (other timestamps may be rounded likewise)"
	}
	msg := fmt.Sprintf("timestamp %d (%s) %s; stored as %d (%s)",
		want, time.UnixMilli(want).UTC().Format(layout), why, got, time.UnixMilli(got).UTC().Format(layout))
	t.notices = append(t.notices, metastore.Notice{Path: p, Message: msg})
}

// Messages of the notices about temporary files.
const (
	leftoverSkipped = "temporary file left by an interrupted write (a killed restore): not a resource, skipped; a restore into this folder removes it"
	leftoverRemoved = "temporary file left by an interrupted write (a killed restore): removed"
)

// Notices returns, sorted by path, and forgets what the store noticed since
// the last call: temporary files of interrupted writes that listings
// skipped (or that writes, deletes and Tidy removed), and timestamps the
// file system could not store (see metastore.Noticer).
func (s *Store) Notices() []metastore.Notice {
	t := s.seen
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.notices
	for p, removed := range t.leftovers {
		msg := leftoverSkipped
		if removed {
			msg = leftoverRemoved
		}
		out = append(out, metastore.Notice{Path: p, Message: msg})
	}
	t.notices, t.leftovers = nil, map[string]bool{}
	slices.SortStableFunc(out, func(a, b metastore.Notice) int {
		if a.Path < b.Path {
			return -1
		}
		if a.Path > b.Path {
			return 1
		}
		return 0
	})
	return out
}

// Tidy removes the temporary files of interrupted writes that listings met
// and that no write is still using (see metastore.Tidier), and forgets what
// the store learnt about folders (Write and Delete tidy each folder they
// touch once, and compute the mode of new files there once, until the next
// Tidy). Only a root that cannot be opened is an error: a leftover that
// cannot be removed stays, and Notices reports it skipped.
func (s *Store) Tidy(ctx context.Context) error {
	t := s.seen
	t.mu.Lock()
	var todo []string
	for p, removed := range t.leftovers {
		if !removed {
			todo = append(todo, p)
		}
	}
	t.folders = map[string]*folderState{}
	t.mu.Unlock()
	slices.Sort(todo)
	for _, p := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		parent, base := splitKey(p)
		w, err := s.walk(parent, walkFind)
		if err != nil {
			if isRootError(err) {
				return fmt.Errorf("folder: tidy: %w", err)
			}
			continue
		}
		if removeIfStale(w.last(), base) {
			t.removed(p)
		}
		w.close()
	}
	return nil
}

// tidyFolder removes, once per folder until Tidy, the temporary files of
// interrupted writes in folder key, open as dir. It never fails: a leftover
// it cannot remove is left as it is.
func (s *Store) tidyFolder(key string, dir int) {
	s.seen.folder(key).tidied.Do(func() {
		rd, err := openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return
		}
		defer unix.Close(rd)
		var stale []string
		s.readDir(rd, nil, func(name []byte, typ uint8) error {
			if (typ == unix.DT_REG || typ == unix.DT_UNKNOWN) && name[0] == '.' && isTemp(string(name)) {
				stale = append(stale, string(name))
			}
			return nil
		})
		for _, name := range stale {
			if removeIfStale(rd, name) {
				s.seen.removed(key + "/" + name)
			}
		}
	})
}

// removeIfStale removes the temporary file name from the open folder dir
// unless a write still uses it: every Write holds an flock(2) on its
// temporary file until it is renamed, which the kernel releases when the
// writer dies. It reports whether it removed the file.
func removeIfStale(dir int, name string) bool {
	fd, err := openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st, now unix.Stat_t
	if fstat(fd, &st) != nil || uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	if flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // being written
	}
	// Still the file that was locked under that name?
	if fstatat(dir, name, &now) != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		return false
	}
	return unix.Unlinkat(dir, name, 0) == nil
}
