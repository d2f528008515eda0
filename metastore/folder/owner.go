package folder

import (
	"golang.org/x/sys/unix"
)

// owner is the mode and owner a file or folder gets.
type owner struct {
	perm     uint32 // permission bits, set-id and sticky bits
	uid, gid int
}

// chown gives the open file fd, created by this process, the owner of o:
// both ids when running as root, the group alone otherwise (which the
// system allows when this user belongs to that group). A refusal (another
// user's group, a root squashed by NFS) leaves the file to this process's
// user and group.
func (s *Store) chown(fd int, o owner) error {
	uid := -1
	if s.euid == 0 && o.uid != s.euid {
		uid = o.uid
	}
	if uid == -1 && o.gid == s.egid {
		return nil // created so
	}
	for {
		switch err := unix.Fchown(fd, uid, o.gid); err {
		case unix.EINTR:
			continue
		case unix.EPERM, unix.EINVAL:
			return nil
		default:
			return err
		}
	}
}

// newFileOwner returns the mode and owner of a new file in folder parent
// (a key prefix), open as dir: the folder's owner, the read and write bits
// for group and others that every regular file of the folder has (in a
// folder without files, the folder's own), and read and write for the
// owner. The answer is computed once per folder until Tidy.
func (s *Store) newFileOwner(parent string, dir int) (owner, error) {
	f := s.seen.folder(parent)
	f.ownerOnce.Do(func() { f.owner, f.ownerErr = s.scanOwner(dir) })
	return f.owner, f.ownerErr
}

// scanOwner computes newFileOwner's answer for the open folder dir.
func (s *Store) scanOwner(dir int) (owner, error) {
	var st unix.Stat_t
	if err := fstat(dir, &st); err != nil {
		return owner{}, err
	}
	o := owner{uid: int(st.Uid), gid: int(st.Gid)}
	perm, files := uint32(0o777), 0
	rd, err := openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		var fst unix.Stat_t
		err = s.readDir(rd, nil, func(name []byte, typ uint8) error {
			if typ != unix.DT_REG && typ != unix.DT_UNKNOWN || isTemp(string(name)) {
				return nil
			}
			switch err := fstatat(rd, string(name), &fst); {
			case err == unix.ENOENT:
				return nil
			case err != nil:
				return err
			}
			if uint32(fst.Mode)&unix.S_IFMT == unix.S_IFREG {
				perm &= uint32(fst.Mode)
				files++
			}
			return nil
		})
		unix.Close(rd)
	}
	switch {
	case err != nil:
		// A folder this user may write but not read (mode 0300): its
		// files cannot be seen, so the new one is private.
		perm = 0
	case files == 0:
		perm = uint32(st.Mode)
	}
	o.perm = perm&0o066 | 0o600
	return o, nil
}

// newFolder makes the folder name in the open folder parent, with the
// parent's owner (see chown) and permission bits (with read, write and
// search for the owner; the set-group-id bit kept, the set-user-id and
// sticky bits not), and returns it open for reading. It returns unix.EEXIST
// if name exists.
func (s *Store) newFolder(parent int, name string) (int, error) {
	var pst unix.Stat_t
	if err := fstat(parent, &pst); err != nil {
		return -1, err
	}
	if err := unix.Mkdirat(parent, name, 0o700); err != nil {
		return -1, err
	}
	fd, err := openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	o := owner{perm: uint32(pst.Mode)&(0o777|unix.S_ISGID) | 0o700, uid: int(pst.Uid), gid: int(pst.Gid)}
	err = s.chown(fd, o)
	if err == nil {
		err = fchmod(fd, o.perm)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
