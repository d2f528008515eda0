package snapshot

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
)

// DirEntry is one entry of a snapshot's folder: a resource or a folder.
type DirEntry struct {
	// Name is the entry's name in its folder, Path its full key
	// ("/cube/kylin_sales_cube.json", or "/dict/KYLIN_SALES" for a folder).
	Name, Path string
	// Dir is true for a folder.
	Dir bool
	// Size and Timestamp describe a resource: its size in bytes and Kylin's
	// timestamp in milliseconds (zero for a folder).
	Size      int64
	Timestamp int64
}

// ReadDir lists one folder of the snapshot ("/" or "" for the root, "/dict/T"
// below it), one level deep, in the order of the keys: the entries from
// offset on, at most limit of them (0: all), and how many the folder holds.
// It reads the folder's tree and, for the resources returned only, their
// sizes and timestamps, so that a browser can page through a folder of
// 100,000 resources. A missing folder gives an error wrapping
// fs.ErrNotExist.
func (s *Snapshot) ReadDir(ctx context.Context, dir string, offset, limit int) ([]DirEntry, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	dir = strings.Trim(dir, "/")
	if dir != "" {
		if err := checkKey("/" + dir); err != nil {
			return nil, 0, err
		}
	}
	entries, ok, err := s.tree.Folder(dir)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("folder /%s in %s: %w", dir, s.Describe(), fs.ErrNotExist)
	}
	total := len(entries)
	offset = min(max(offset, 0), total)
	end := total
	if limit > 0 {
		end = min(offset+limit, total)
	}
	base := "/"
	if dir != "" {
		base = "/" + dir + "/"
	}
	var ts map[string]int64
	out := make([]DirEntry, 0, end-offset)
	for _, e := range entries[offset:end] {
		de := DirEntry{Name: e.Name, Path: base + e.Name, Dir: e.IsDir()}
		if !de.Dir {
			if ts == nil {
				if ts, err = s.tree.Timestamps(dir); err != nil {
					return nil, 0, err
				}
			}
			t, ok := ts[e.Name]
			if !ok {
				return nil, 0, s.tree.NoTimestamp(de.Path)
			}
			n, err := s.repo.objs.Size(e.ID)
			if err != nil {
				return nil, 0, fmt.Errorf("%w: snapshot %s: %s: %v", ErrCorrupt, s.Info.ID.Short(), de.Path, err)
			}
			de.Size, de.Timestamp = n, t
		}
		out = append(out, de)
	}
	return out, total, nil
}
