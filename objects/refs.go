package objects

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Ref is a named reference to an object.
type Ref struct {
	// Name is the full reference name, such as "refs/heads/system".
	Name string
	// ID is the object the reference points at.
	ID ID
}

// CheckRefName reports whether name is a reference name this package will
// write: it starts with "refs/", and follows git's rules (no "..", no
// component starting with a dot or ending with ".lock", no control
// characters, spaces or any of ~^:?*[\).
func CheckRefName(name string) error {
	bad := func(why string) error { return fmt.Errorf("reference name %q: %s", name, why) }
	if !strings.HasPrefix(name, "refs/") {
		return bad("must start with refs/")
	}
	if strings.Contains(name, "..") || strings.Contains(name, "@{") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") {
		return bad("not a valid git reference name")
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c[0] == '.' || strings.HasSuffix(c, ".lock") {
			return bad("not a valid git reference name")
		}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return bad(fmt.Sprintf("character %q is not allowed", r))
		}
	}
	return nil
}

// Ref returns the object a reference points at. It fails with ErrNotFound if
// the reference does not exist.
func (r *Repository) Ref(name string) (ID, error) {
	data, err := os.ReadFile(filepath.Join(r.path, filepath.FromSlash(name)))
	if err == nil {
		return parseRefFile(name, data)
	}
	if !errors.Is(err, fs.ErrNotExist) && !isNotDir(err) {
		return ID{}, fmt.Errorf("read reference %s: %w", name, err)
	}
	packed, err := r.packedRefs()
	if err != nil {
		return ID{}, err
	}
	if id, ok := packed[name]; ok {
		return id, nil
	}
	return ID{}, fmt.Errorf("reference %s: %w", name, ErrNotFound)
}

func isNotDir(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

func parseRefFile(name string, data []byte) (ID, error) {
	s := strings.TrimSpace(string(data))
	if strings.HasPrefix(s, "ref: ") {
		return ID{}, fmt.Errorf("%w: reference %s is symbolic", ErrCorrupt, name)
	}
	id, err := ParseID(s)
	if err != nil {
		return ID{}, fmt.Errorf("%w: reference %s: %v", ErrCorrupt, name, err)
	}
	return id, nil
}

// packedRefs reads the packed-refs file git writes when it packs references.
func (r *Repository) packedRefs() (map[string]ID, error) {
	f, err := os.Open(filepath.Join(r.path, "packed-refs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	out := map[string]ID{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '^' {
			continue
		}
		h, name, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("%w: packed-refs line %q", ErrCorrupt, line)
		}
		id, err := ParseID(h)
		if err != nil {
			return nil, fmt.Errorf("%w: packed-refs: %v", ErrCorrupt, err)
		}
		out[name] = id
	}
	return out, sc.Err()
}

// Refs lists the references whose names start with prefix, sorted by name.
func (r *Repository) Refs(prefix string) ([]Ref, error) {
	found := map[string]ID{}
	packed, err := r.packedRefs()
	if err != nil {
		return nil, err
	}
	for n, id := range packed {
		if strings.HasPrefix(n, prefix) {
			found[n] = id
		}
	}
	err = r.walkLooseRefs(func(name, p string) error {
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		id, err := parseRefFile(name, data)
		if err != nil {
			return err
		}
		found[name] = id
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Ref, 0, len(found))
	for n, id := range found {
		out = append(out, Ref{Name: n, ID: id})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// walkLooseRefs calls fn with the name and the file of each loose
// reference (the files under refs/, but the locks of updates under way).
func (r *Repository) walkLooseRefs(fn func(name, path string) error) error {
	err := filepath.WalkDir(filepath.Join(r.path, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".lock") {
			return nil
		}
		rel, _ := filepath.Rel(r.path, p)
		return fn(filepath.ToSlash(rel), p)
	})
	if err != nil {
		return fmt.Errorf("list references: %w", err)
	}
	return nil
}

// UpdateRef points the reference name at id if it currently points at old
// (ZeroID: if it does not exist yet); otherwise it fails with ErrRefChanged.
// The new value is written to a temporary file, synced and renamed into
// place, so a crash leaves the old or the new value, never an empty file.
// Callers that may race hold the repository Lock.
func (r *Repository) UpdateRef(name string, id, old ID) error {
	if err := CheckRefName(name); err != nil {
		return err
	}
	cur, err := r.Ref(name)
	switch {
	case errors.Is(err, ErrNotFound):
		cur = ZeroID
	case err != nil:
		return err
	}
	if cur != old {
		return fmt.Errorf("update %s: %w (expected %s, found %s)", name, ErrRefChanged, old, cur)
	}
	path := filepath.Join(r.path, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), DirMode); err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	lock := path + ".lock"
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			// A git process or a crashed writer left it. We hold the
			// repository lock, so no writer of ours is using it.
			os.Remove(lock)
			f, err = os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
		}
		if err != nil {
			return fmt.Errorf("update %s: %w", name, err)
		}
	}
	if _, err := f.WriteString(id.String() + "\n"); err != nil {
		f.Close()
		os.Remove(lock)
		return fmt.Errorf("update %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(lock)
		return fmt.Errorf("update %s: %w", name, err)
	}
	f.Close()
	if err := os.Rename(lock, path); err != nil {
		os.Remove(lock)
		return fmt.Errorf("update %s: %w", name, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// DeleteRef removes the reference name if it points at old. It removes the
// loose file and, when git packed the reference, rewrites packed-refs without
// it.
func (r *Repository) DeleteRef(name string, old ID) error {
	cur, err := r.Ref(name)
	if err != nil {
		return err
	}
	if cur != old {
		return fmt.Errorf("delete %s: %w", name, ErrRefChanged)
	}
	path := filepath.Join(r.path, filepath.FromSlash(name))
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	packed, err := r.packedRefs()
	if err != nil {
		return err
	}
	if _, ok := packed[name]; !ok {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(r.path, "packed-refs"))
	if err != nil {
		return err
	}
	var out bytes.Buffer
	skipPeel := false
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "^") {
			if !skipPeel {
				out.WriteString(line)
			}
			continue
		}
		_, n, _ := strings.Cut(strings.TrimRight(line, "\n"), " ")
		skipPeel = n == name
		if !skipPeel {
			out.WriteString(line)
		}
	}
	tmp := filepath.Join(r.path, "packed-refs.lock")
	if err := writeFileSync(tmp, out.Bytes()); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(r.path, "packed-refs"))
}

// RefNames lists the names of every reference, loose or packed, whether or
// not its file parses (Ref tells which ones do not), sorted.
func (r *Repository) RefNames() ([]string, error) {
	found := map[string]bool{}
	if packed, err := r.packedRefs(); err == nil {
		for n := range packed {
			found[n] = true
		}
	}
	err := r.walkLooseRefs(func(name, _ string) error {
		found[name] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(found))
	for n := range found {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}
