package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// localFolder is implemented by metastores kept as files under a local
// folder (folder.Store): Root returns the folder's absolute path. Backup,
// Restore and Diff use it to refuse a folder that overlaps the repository,
// and Restore to find files and folders in the way of a write.
type localFolder interface {
	Root() string
}

// checkSeparate refuses a metastore kept in a local folder that overlaps
// the repository (see CheckSeparate); other metastores pass.
func (r *Repository) checkSeparate(st any) error {
	lf, ok := st.(localFolder)
	if !ok {
		return nil
	}
	return CheckSeparate(r.Path(), lf.Root())
}

// CheckSeparate returns an error wrapping ErrInsideRepository if the folder
// dir (a folder metastore or a Kylin backup folder) and the snapshot
// repository at repo are the same folder, or one lies inside the other, once
// symbolic links are resolved. Either may not exist yet (a restore creates
// its target folder, a first backup its repository): it is then judged by
// its nearest existing ancestor, as it would be created. A backup of such a
// folder would record the repository into itself, and a restore into it
// could delete the repository's own files, so both refuse it before writing
// anything.
func CheckSeparate(repo, dir string) error {
	rBase, rRest, err := resolveExisting(repo)
	if err != nil {
		return fmt.Errorf("repository %s: %w", repo, err)
	}
	dBase, dRest, err := resolveExisting(dir)
	if err != nil {
		return fmt.Errorf("folder %s: %w", dir, err)
	}
	rFull, dFull := filepath.Join(rBase, rRest), filepath.Join(dBase, dRest)
	equal := rFull == dFull
	dirInRepo := within(dFull, rFull)
	repoInDir := within(rFull, dFull)
	// The same folder under two names (a bind mount, a case-insensitive
	// file system): compare the existing folders by identity too.
	if !dirInRepo && !repoInDir {
		if rRest == "" {
			dirInRepo = sameAncestor(dBase, rBase)
		}
		if dRest == "" {
			repoInDir = sameAncestor(rBase, dBase)
		}
		equal = dirInRepo && repoInDir
	}
	switch {
	case equal:
		return fmt.Errorf("%w: %s is the snapshot repository itself; keep the repository outside the metastore", ErrInsideRepository, dir)
	case dirInRepo:
		return fmt.Errorf("%w: %s lies inside the snapshot repository %s; give a folder outside the repository", ErrInsideRepository, dir, repo)
	case repoInDir:
		return fmt.Errorf("%w: the snapshot repository %s lies inside %s: a backup would record the repository into itself and a restore could delete it; keep the repository outside the metastore (for example $KYLIN_HOME/meta_backups/snapshots.git)", ErrInsideRepository, repo, dir)
	}
	return nil
}

// resolveExisting splits the absolute form of path into its nearest
// existing ancestor (or itself), with symbolic links resolved, and the
// components below it that do not exist yet.
func resolveExisting(path string) (base, rest string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	var missing []string
	for p := abs; ; {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			for i, j := 0, len(missing)-1; i < j; i, j = i+1, j-1 {
				missing[i], missing[j] = missing[j], missing[i]
			}
			return real, filepath.Join(missing...), nil
		}
		// Missing, below a file, or unreadable: judge by the parent.
		parent := filepath.Dir(p)
		if parent == p {
			return "", "", err
		}
		missing = append(missing, filepath.Base(p))
		p = parent
	}
}

// within reports whether path is root or lies below it.
func within(path, root string) bool {
	if path == root {
		return true
	}
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		root += string(filepath.Separator)
	}
	return strings.HasPrefix(path, root)
}

// sameAncestor reports whether dir, or one of its ancestors, is the same
// folder as root.
func sameAncestor(dir, root string) bool {
	rst, err := os.Stat(root)
	if err != nil {
		return false
	}
	for p := dir; ; {
		if st, err := os.Stat(p); err == nil && os.SameFile(st, rst) {
			return true
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false
		}
		p = parent
	}
}
