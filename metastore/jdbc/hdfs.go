package jdbc

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kylin-tools/metastore/metastore"
)

// pushdownDir is the folder Kylin 2.5-4.x push big content to, below
// kylin.env.hdfs-working-dir/IDENTIFIER (PushdownResourceStore.pushdownRootPath).
const pushdownDir = "resources-jdbc"

// pushedFiles returns the files of HDFSRoot that may hold key's content:
// HDFSRoot/IDENTIFIER/resources-jdbc/KEY (HDFSRoot is a copy of
// kylin.env.hdfs-working-dir) and HDFSRoot/resources-jdbc/KEY (HDFSRoot is
// the metastore's own folder, or kylin.env.hdfs-metastore-bigcell-dir).
func (s *Store) pushedFiles(key string) []string {
	rel := filepath.FromSlash(key[1:])
	return []string{
		filepath.Join(s.cfg.HDFSRoot, s.id, pushdownDir, rel),
		filepath.Join(s.cfg.HDFSRoot, pushdownDir, rel),
	}
}

// readPushed reads the content of a row Kylin pushed to HDFS from HDFSRoot.
// Without HDFSRoot, or when it lacks the file, the error wraps
// metastore.ErrContentElsewhere.
func (s *Store) readPushed(rw row) ([]byte, error) {
	why := "its row has NULL content (pushed out: larger than kylin.metadata.jdbc.max-cell-size)"
	if !rw.null {
		why = "its row has empty content, Kylin's marker of a big resource kept in HDFS"
	}
	hdfs := fmt.Sprintf("<kylin.env.hdfs-working-dir>/%s/%s%s", s.id, pushdownDir, rw.key)
	if s.cfg.HDFSRoot == "" {
		return nil, fmt.Errorf("%w: %s; Kylin keeps it in HDFS at %s", metastore.ErrContentElsewhere, why, hdfs)
	}
	files := s.pushedFiles(rw.key)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read the content Kylin pushed to HDFS from %s: %w", f, err)
		}
		return data, nil
	}
	return nil, fmt.Errorf("%w: %s; Kylin keeps it in HDFS at %s, which the HDFS root %s does not hold (looked at %s and %s)",
		metastore.ErrContentElsewhere, why, hdfs, s.cfg.HDFSRoot, files[0], files[1])
}

// statPushed returns the size of the HDFSRoot copy of key's content.
func (s *Store) statPushed(key string) (int64, bool) {
	if s.cfg.HDFSRoot == "" {
		return 0, false
	}
	for _, f := range s.pushedFiles(key) {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return fi.Size(), true
		}
	}
	return 0, false
}

// putPushedEmpty writes the empty file a Kylin 2.5-4.x empty row stands for
// into HDFSRoot, as Kylin's putBigResource does, so that the resource reads
// back empty. It returns a function that puts the file back as it was.
func (s *Store) putPushedEmpty(key string) (undo func(), err error) {
	files := s.pushedFiles(key)
	target := files[0]
	if fi, err := os.Stat(filepath.Join(s.cfg.HDFSRoot, pushdownDir)); err == nil && fi.IsDir() {
		if _, err := os.Stat(filepath.Join(s.cfg.HDFSRoot, s.id, pushdownDir)); err != nil {
			target = files[1]
		}
	}
	old, rerr := os.ReadFile(target)
	existed := rerr == nil
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, fmt.Errorf("write the empty HDFS copy of %s: %w", key, err)
	}
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		return nil, fmt.Errorf("write the empty HDFS copy of %s: %w", key, err)
	}
	return func() {
		if existed {
			os.WriteFile(target, old, 0o644)
		} else {
			os.Remove(target)
		}
	}, nil
}
