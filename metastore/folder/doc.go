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
// Write creates missing parent directories (mode 0755), writes the content
// to a temporary file beside the target (".<name>.metastore-tmp-<random>",
// mode 0644, which List skips), sets its modification and access times to
// the timestamp and renames it over the target: a reader sees the old or the
// new content, never a torn file, and a crash leaves at most a temporary
// file. Writes are not synced as they are made; Sync makes them durable: a
// few files (a cube restore) with an fsync(2) of each and of the folders
// above it, so that a busy host's other dirty data is not waited for; more
// (restoring 100,000 resources), or any delete, with one syncfs(2) of the
// whole file system.
//
// Delete removes the file and then every parent directory it left empty, up
// to but never including the root.
//
// # Listing
//
// List and ListEntries stream the tree in byte order of path without loading
// it whole: each directory is read with getdents(2) and sorted on its own,
// a subdirectory sorting as its name followed by "/". ListEntries gives each
// file's size, timestamp and a Change fingerprint made of the device, inode,
// change time, modification time and size from lstat(2). Because Write
// always makes a new inode while the old one is still in use, any rewrite
// through a Store changes the fingerprint, even one that keeps the size and
// the timestamp.
//
// The package uses Linux system calls (openat, getdents64, syncfs) through
// golang.org/x/sys/unix and builds on Linux only.
package folder
