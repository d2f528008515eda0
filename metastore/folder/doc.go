// Package folder is a metastore kept as a tree of files, the layout of
// Kylin's FileResourceStore and of the backup folders Kylin's metastore.sh
// writes (meta_YYYY_MM_DD_HH_MM_SS).
//
// The resource "/a/b" is the file <root>/a/b. Its timestamp is the file's
// modification time in milliseconds: Kylin's FileResourceStore reads it with
// File.lastModified() and sets it on every write, and so does Store.
// Directories are not resources, and an empty directory lists nothing.
//
// # Safety
//
// A Store never reads or writes outside its root. Keys are checked with
// metastore.CheckPath, and the tree is walked one component at a time with
// openat(2) and O_NOFOLLOW, so no symbolic link is ever followed: a key
// whose any component, the file itself included, is a symbolic link is
// refused with an error wrapping ErrSymlink, and List fails naming the first
// symbolic link it meets. The root itself is trusted and may be reached
// through a symbolic link.
//
// # Writes
//
// Write creates missing parent directories, writes the content to a
// temporary file beside the target, sets its modification and access times
// to the timestamp and renames it over the target: a reader sees the old or
// the new content, never a torn file, and a crash leaves at most a temporary
// file. The temporary file is created private (mode 0600) and gets its final
// owner and mode before the rename. Writes are not synced as they are made;
// Sync makes them durable: a few files (a cube restore) with an fsync(2) of
// each and of the folders above it, so that a busy host's other dirty data
// is not waited for; more (restoring 100,000 resources), or any delete, with
// one syncfs(2) of the whole file system.
//
// A timestamp the file system cannot store (ext4 keeps 1901 to 2446) is
// stored as near as it can: Write does not fail, and Notices names the
// resource and the timestamp stored.
//
// Delete removes the file and then every parent directory it left empty, up
// to but never including the root.
//
// # Modes and owners
//
// A restore must neither open a private file to everyone (Kylin's
// /user/ADMIN holds a password hash, often 0600) nor leave files that Kylin's
// own user cannot rewrite after a restore run as root. So:
//
//   - A file Write replaces keeps its mode (set-id bits included) and its
//     owner and group.
//   - A new file takes its folder's owner and group, and the mode rw for
//     the owner plus, for group and others, only the read and write bits
//     that every regular file already in the folder has (the intersection
//     of its siblings' modes: beside 0644, 0664 and 0640 files it is 0640;
//     beside 0600 files, 0600). In a folder without files, the group and
//     others bits come from the folder's own read and write bits (0755 gives
//     0644, 0750 gives 0640, 0700 gives 0600). A folder this user can write
//     but not list gives 0600. The umask plays no part. The answer is
//     computed once per folder until Tidy.
//   - A new folder takes its parent's owner and group and its permission
//     bits (with rwx for the owner, set-group-id kept). It is made private
//     and then given them: concurrent Writes of one Store wait for a folder
//     another of them is making, so that nothing is made in it, nor takes
//     its mode from it, in between.
//
// Owners are set with fchown(2) on the temporary file before the rename:
// both user and group when running as root, the group alone otherwise,
// which the system allows when this user belongs to the group; a refusal
// (EPERM, as from an NFS server that squashes root) leaves the file to this
// process's user.
//
// # Temporary files
//
// A temporary file is named ".<name>.metastore-tmp-<13 base-36 digits>"
// (the name cut to 200 bytes), and only names of exactly that form (with 1
// to 13 digits, as earlier versions wrote them) are taken for one: a key
// that merely contains ".metastore-tmp-" is an ordinary resource, and only a
// key whose last component has that exact form is refused, with an error
// wrapping metastore.ErrInvalidPath. Folders may have any name.
//
// Every Write holds an flock(2) on its temporary file until the rename; the
// kernel drops it when the writer dies. A temporary file nobody holds is
// the leftover of an interrupted write (a killed restore). Listings skip
// leftovers, never remove them (a backup changes nothing) and remember them;
// Notices reports them, so that a backup warns of each by name. Write and
// Delete remove the leftovers of each folder they touch (once per folder
// until Tidy), and Tidy removes those the listings met: a restore calls it
// at its end, also when the target already matched the snapshot.
//
// # Listing
//
// List and ListEntries stream the tree in byte order of path without loading
// it whole: each directory is read on its own and sorted, a subdirectory
// sorting as its name followed by "/". ListEntries gives each file's size,
// timestamp and a Change fingerprint made of the device, inode, change time,
// modification time and size from lstat(2). Because Write always makes a
// new inode while the old one is still in use, any rewrite through a Store
// changes the fingerprint, even one that keeps the size and the timestamp.
//
// # Portability
//
// The package builds on every Unix system (golang.org/x/sys/unix). On Linux
// it takes a fast path: folders are walked with O_PATH descriptors, read
// with getdents(2) into one reused buffer, and many writes are made durable
// with one syncfs(2). Elsewhere (macOS, the BSDs) it takes the portable
// path, with the same behaviour and the same openat(2) and O_NOFOLLOW walk:
// folders are opened for reading (so one this user may search but not read
// cannot be walked), read with os.File.ReadDir, and Sync fsyncs every file
// written and every folder changed, then, on macOS, asks the drive to flush
// its cache once (F_FULLFSYNC). The tests run the conformance suite and this
// package's tests on both paths.
package folder
