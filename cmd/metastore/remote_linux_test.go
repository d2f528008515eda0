//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPushRemoteDiskFull pushes to a file:// remote on a full file system:
// a clear error, no reference on the remote, git fsck happy; once there is
// room, the rerun completes.
func TestPushRemoteDiskFull(t *testing.T) {
	t.Parallel()
	fsDir := mountTmpfs(t, "1m")
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	st := genMetastore(t, meta, 600, 11)
	repo := filepath.Join(dir, "a.git")
	remote := bareRemote(t, filepath.Join(fsDir, "remote.git"))
	c := newCLI(t)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup")
	r := c.run("-q", "--repo", repo, "push", remote)
	if r.code != 1 || !strings.Contains(r.stderr, "remote refused the update") {
		t.Fatalf("push to a full disk: %s", r)
	}
	if refs := remoteRefs(t, remote); len(refs) != 0 {
		t.Fatalf("references on the remote after a failed push: %q", refs)
	}
	gitFsck(t, remote)
	resizeTmpfs(t, fsDir, "64m")
	c.mustRun("-q", "--repo", repo, "push", remote)
	checkGitRemote(t, remote, uuidOf(st))
}
