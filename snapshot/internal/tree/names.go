package tree

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

// Names of the snapshot tree (FORMAT.md, "Snapshot tree").
const (
	// RecordsDir is the top-level entry holding the tool's own records; a
	// resource key never starts with it.
	RecordsDir = ".metastore"
	// TimestampsDir, inside RecordsDir, mirrors the resource folders: a
	// resource's timestamp is in the name of its mirror entry.
	TimestampsDir = "timestamps"
)

// ErrCorrupt means a tree is missing or damaged: it is objects.ErrCorrupt,
// which package snapshot exports as its own.
var ErrCorrupt = objects.ErrCorrupt

// IsReserved reports whether a resource key collides with the records:
// "/.metastore" or a key below it.
func IsReserved(key string) bool {
	return key == "/"+RecordsDir || strings.HasPrefix(key, "/"+RecordsDir+"/")
}

// MirrorEntry is the name of a resource's entry in the timestamps mirror:
// "<name>@<milliseconds>".
func MirrorEntry(name string, ms int64) string {
	return name + "@" + strconv.FormatInt(ms, 10)
}

// AppendMirrorEntry appends MirrorEntry(name, ms) to b.
func AppendMirrorEntry(b []byte, name string, ms int64) []byte {
	b = append(append(b, name...), '@')
	return strconv.AppendInt(b, ms, 10)
}

// ParseMirrorEntry splits a timestamps mirror entry name into the
// resource's name and its timestamp.
func ParseMirrorEntry(entry string) (name string, ms int64, ok bool) {
	i := strings.LastIndexByte(entry, '@')
	if i <= 0 {
		return "", 0, false
	}
	ms, err := strconv.ParseInt(entry[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return entry[:i], ms, true
}

// escapedDirRE matches folder names that look like timestamp entries.
var escapedDirRE = regexp.MustCompile(`@-?[0-9]+@*$`)

// EscapeDir maps a resource folder name to its name in the timestamps
// mirror. Folders and resources live in one namespace there, so a folder
// whose name ends like a timestamp entry ("x@123") gets one more "@".
func EscapeDir(name string) string {
	if escapedDirRE.MatchString(name) {
		return name + "@"
	}
	return name
}

// MirrorPath is the path of the timestamps mirror of resource folder dir
// ("" for the root, "cube", "dict/T/C"), from the root tree.
func MirrorPath(dir string) string {
	p := RecordsDir + "/" + TimestampsDir
	if dir == "" {
		return p
	}
	for c := range strings.SplitSeq(dir, "/") {
		p += "/" + EscapeDir(c)
	}
	return p
}

// splitDir splits a folder path into its parent and its name.
func splitDir(path string) (string, string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}
