package snapshot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/scope"
)

// FormatVersion is the repository format this package writes and the newest
// it reads. It is recorded in the repository's git config as
// metastore.format and in every commit's Metastore-Format trailer.
const FormatVersion = 1

// Kind says why a snapshot was taken.
type Kind string

// The kinds of snapshot.
const (
	// KindBackup is a snapshot taken by a backup command.
	KindBackup Kind = "backup"
	// KindSafety is the automatic snapshot of a target's state taken just
	// before a restore overwrote it; "latest" never resolves to one.
	KindSafety Kind = "safety"
	// KindImport is a snapshot recorded from a Kylin backup folder
	// (metastore.sh backup's meta_YYYY_MM_DD_HH_MM_SS).
	KindImport Kind = "import"
)

// Commit trailer keys (see FORMAT.md).
const (
	trFormat     = "Metastore-Format"
	trScope      = "Metastore-Scope"
	trKind       = "Metastore-Kind"
	trSource     = "Metastore-Source"
	trUUID       = "Metastore-UUID"
	trResources  = "Metastore-Resources"
	trBytes      = "Metastore-Bytes"
	trRestoreOf  = "Metastore-Restore-Of"
	trSegments   = "Metastore-With-Segments"
	trTakenAt    = "Metastore-Taken-At"
	trRecordedAt = "Metastore-Recorded-At"
	trImportPath = "Metastore-Imported-From"
	trAdded      = "Metastore-Restore-Added"
)

// takenAtLayout is the millisecond-precision time of Metastore-Taken-At
// (git's own commit times have whole seconds).
const takenAtLayout = "2006-01-02T15:04:05.000Z07:00"

// info fields carried by trailers.
type trailerInfo struct {
	Scope      scope.Scope
	Kind       Kind
	Source     string
	UUID       string
	Resources  int
	Bytes      int64
	RestoreOf  string
	Segments   bool
	TakenAt    time.Time
	RecordedAt time.Time
	ImportPath string
	Added      []string
}

// encodeMessage returns a snapshot commit's message: the title on one line,
// a blank line, the trailers. A title is one line whatever the caller gave:
// line breaks and other control characters become spaces, so a title can
// neither forge lines in log nor add a paragraph of trailers.
func encodeMessage(title string, t trailerInfo) string {
	var b strings.Builder
	title = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return ' '
		}
		return r
	}, title))
	if title == "" {
		title = fmt.Sprintf("%s of %s", t.Kind, t.Scope)
	}
	b.WriteString(title)
	b.WriteString("\n\n")
	line := func(k, v string) {
		v = strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, v)
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	line(trFormat, strconv.Itoa(FormatVersion))
	line(trScope, t.Scope.String())
	line(trKind, string(t.Kind))
	line(trSource, t.Source)
	line(trUUID, t.UUID)
	line(trResources, strconv.Itoa(t.Resources))
	line(trBytes, strconv.FormatInt(t.Bytes, 10))
	if t.Segments {
		line(trSegments, "true")
	}
	line(trRestoreOf, t.RestoreOf)
	if !t.TakenAt.IsZero() {
		line(trTakenAt, t.TakenAt.UTC().Format(takenAtLayout))
	}
	if !t.RecordedAt.IsZero() {
		line(trRecordedAt, t.RecordedAt.UTC().Format(takenAtLayout))
	}
	line(trImportPath, t.ImportPath)
	for _, p := range t.Added {
		line(trAdded, p)
	}
	return b.String()
}

// splitMessage returns the message a user gave (everything before the
// trailers) and the trailers.
func splitMessage(msg string) (string, map[string][]string) {
	m := strings.TrimRight(msg, "\n")
	i := strings.LastIndex(m, "\n\n")
	if i < 0 {
		return m, nil
	}
	tr := map[string][]string{}
	for _, l := range strings.Split(m[i+2:], "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok || strings.ContainsAny(k, " \t") {
			return m, nil
		}
		tr[k] = append(tr[k], v)
	}
	return m[:i], tr
}

func decodeTrailers(tr map[string][]string) (trailerInfo, error) {
	get := func(k string) string {
		if v := tr[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	var t trailerInfo
	fv := get(trFormat)
	if fv == "" {
		return t, fmt.Errorf("%w: commit has no %s trailer", ErrNotMetastoreRepository, trFormat)
	}
	n, err := strconv.Atoi(fv)
	if err != nil {
		return t, fmt.Errorf("%w: %s %q", ErrCorrupt, trFormat, fv)
	}
	if n > FormatVersion {
		return t, fmt.Errorf("%w: snapshot format %d, this tool reads up to %d", ErrNewerFormat, n, FormatVersion)
	}
	t.Scope, err = scope.Parse(get(trScope))
	if err != nil {
		return t, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	t.Kind = Kind(get(trKind))
	switch t.Kind {
	case KindBackup, KindSafety, KindImport:
	default:
		return t, fmt.Errorf("%w: unknown snapshot kind %q", ErrCorrupt, t.Kind)
	}
	t.Source = get(trSource)
	t.UUID = get(trUUID)
	t.Resources, _ = strconv.Atoi(get(trResources))
	t.Bytes, _ = strconv.ParseInt(get(trBytes), 10, 64)
	t.RestoreOf = get(trRestoreOf)
	t.Segments = get(trSegments) == "true"
	// A time that does not parse is left zero: the commit's own times
	// stand in for it.
	t.TakenAt, _ = time.Parse(takenAtLayout, get(trTakenAt))
	t.RecordedAt, _ = time.Parse(takenAtLayout, get(trRecordedAt))
	t.ImportPath = get(trImportPath)
	t.Added = tr[trAdded]
	return t, nil
}

// folderTimeLayout is how Info.FolderTime writes the time of a Kylin backup
// folder's name: a wall-clock time without a zone.
const folderTimeLayout = "2006-01-02T15:04:05"

// backupFolderTime reads the time in a Kylin backup folder's name,
// meta_YYYY_MM_DD_HH_MM_SS, as a wall-clock time (folderTimeLayout). The
// name is in the local time of the Kylin host that wrote it, whose zone is
// unknown here: the time is never read as an instant.
func backupFolderTime(base string) (string, bool) {
	const layout = "meta_2006_01_02_15_04_05"
	if len(base) < len(layout) {
		return "", false
	}
	t, err := time.ParseInLocation(layout, base[:len(layout)], time.UTC)
	if err != nil {
		return "", false
	}
	return t.Format(folderTimeLayout), true
}
