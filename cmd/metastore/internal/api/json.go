package api

import (
	"bytes"
	"encoding/base64"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/snapshot"
)

// SnapshotJSON describes a snapshot, as log --json prints it.
type SnapshotJSON struct {
	ID           string    `json:"id"`
	Short        string    `json:"short_id"`
	Parent       string    `json:"parent,omitempty"`
	Time         time.Time `json:"time"`
	Recorded     time.Time `json:"recorded"`
	Scope        string    `json:"scope"`
	Kind         string    `json:"kind"`
	Author       string    `json:"author"`
	Message      string    `json:"message"`
	Resources    int       `json:"resources"`
	Bytes        int64     `json:"bytes"`
	Source       string    `json:"source,omitempty"`
	UUID         string    `json:"metastore_uuid,omitempty"`
	WithSegments bool      `json:"with_segments,omitempty"`
	RestoreOf    string    `json:"restore_of,omitempty"`
	ImportPath   string    `json:"imported_from,omitempty"`
	FolderTime   string    `json:"folder_time,omitempty"`
	Tags         []string  `json:"tags"`
	// Instance is the instance the snapshot belongs to (its metastore
	// UUID); PulledFrom, for a snapshot pulled from a remote, that
	// remote's name.
	Instance   string `json:"instance,omitempty"`
	PulledFrom string `json:"pulled_from,omitempty"`
}

// Snapshot describes in as a document.
func Snapshot(in snapshot.Info) SnapshotJSON {
	j := SnapshotJSON{
		ID: in.ID.String(), Short: in.ID.Short(), Time: in.Time, Recorded: in.Recorded,
		Scope: in.Scope.String(), Kind: string(in.Kind), Author: in.Author, Message: in.Message,
		Resources: in.Resources, Bytes: in.Bytes, Source: in.Source, UUID: in.UUID,
		WithSegments: in.WithSegments, RestoreOf: in.RestoreOf, ImportPath: in.ImportPath, FolderTime: in.FolderTime,
		Tags: NonNil(in.Tags), Instance: in.Instance, PulledFrom: in.Remote,
	}
	if !in.Parent.IsZero() {
		j.Parent = in.Parent.String()
	}
	return j
}

// Snapshots describes a list of snapshots (log --json): never null.
func Snapshots(list []snapshot.Info) []SnapshotJSON {
	out := make([]SnapshotJSON, 0, len(list))
	for _, in := range list {
		out = append(out, Snapshot(in))
	}
	return out
}

// BackupJSON is the document of a backup.
type BackupJSON struct {
	Snapshot   SnapshotJSON `json:"snapshot"`
	Recorded   bool         `json:"recorded"`
	Repository string       `json:"repository"`
	Created    bool         `json:"repository_created"`
	Resources  int          `json:"resources"`
	Bytes      int64        `json:"bytes"`
	NewObjects int          `json:"new_objects"`
	NewBytes   int64        `json:"new_bytes"`
	PackBytes  int64        `json:"packed_bytes"`
	Unread     int          `json:"unread_unchanged"`
	Warnings   []string     `json:"warnings"`
	Seconds    float64      `json:"seconds"`
}

// SummaryJSON is the document of show REF.
type SummaryJSON struct {
	Snapshot SnapshotJSON         `json:"snapshot"`
	Parent   *SnapshotJSON        `json:"parent"`
	Types    []snapshot.TypeCount `json:"types"`
}

// Summary describes sum as a document.
func Summary(sum *snapshot.Summary) SummaryJSON {
	j := SummaryJSON{Snapshot: Snapshot(sum.Info), Types: sum.Types}
	if sum.Parent != nil {
		p := Snapshot(*sum.Parent)
		j.Parent = &p
	}
	if j.Types == nil {
		j.Types = []snapshot.TypeCount{}
	}
	return j
}

// ResourceJSON is the document of show REF:PATH: the content as a string
// when it is UTF-8 text without NUL bytes, in base64 otherwise.
type ResourceJSON struct {
	Snapshot      string  `json:"snapshot"`
	Path          string  `json:"path"`
	Size          int     `json:"size"`
	Timestamp     int64   `json:"timestamp"`
	ID            string  `json:"id"`
	Content       *string `json:"content,omitempty"`
	ContentBase64 *string `json:"content_base64,omitempty"`
}

// IsText reports whether data is shown as text: UTF-8 without NUL bytes.
func IsText(data []byte) bool { return utf8.Valid(data) && !bytes.ContainsRune(data, 0) }

// Resource describes resource res of snapshot snap as a document.
func Resource(snap snapshot.ID, res metastore.Resource) ResourceJSON {
	j := ResourceJSON{Snapshot: snap.String(), Path: res.Path, Size: len(res.Data),
		Timestamp: res.Timestamp, ID: snapshot.BlobID(res.Data).String()}
	if IsText(res.Data) {
		text := string(res.Data)
		j.Content = &text
	} else {
		b64 := base64.StdEncoding.EncodeToString(res.Data)
		j.ContentBase64 = &b64
	}
	return j
}

// EntryJSON is one resource in ls --json.
type EntryJSON struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Timestamp int64  `json:"timestamp"`
	ID        string `json:"id"`
}

// Entries describes a listing (ls --json): never null.
func Entries(entries []metastore.Entry) []EntryJSON {
	out := make([]EntryJSON, 0, len(entries))
	for _, en := range entries {
		out = append(out, Entry(en))
	}
	return out
}

// Entry describes one resource of a listing.
func Entry(en metastore.Entry) EntryJSON {
	return EntryJSON{Path: en.Path, Size: en.Size, Timestamp: en.Timestamp, ID: en.Change}
}

// PlanItemJSON is one resource of a restore plan.
type PlanItemJSON struct {
	Path         string `json:"path"`
	Action       string `json:"action"`
	OldSize      int64  `json:"old_size"`
	NewSize      int64  `json:"new_size"`
	OldTimestamp int64  `json:"old_timestamp,omitempty"`
	NewTimestamp int64  `json:"new_timestamp,omitempty"`
	Note         string `json:"note,omitempty"`
}

// RestoreJSON is the document of a restore or of its dry run.
type RestoreJSON struct {
	Snapshot SnapshotJSON   `json:"snapshot"`
	Imported bool           `json:"imported"`
	Scope    string         `json:"scope"`
	Project  string         `json:"project,omitempty"`
	Target   string         `json:"target"`
	DryRun   bool           `json:"dry_run"`
	Applied  bool           `json:"applied"`
	Safety   *SnapshotJSON  `json:"safety_snapshot"`
	Counts   map[string]int `json:"counts"`
	Plan     []PlanItemJSON `json:"plan"`
	Warnings []string       `json:"warnings"`
	Undo     string         `json:"undo,omitempty"`
	Reminder string         `json:"reminder,omitempty"`
	// Live is, for a database target, what a running Kylin 5 sees.
	Live *LiveJSON `json:"live_cluster,omitempty"`
}

// DiffSideJSON describes one side of a diff.
type DiffSideJSON struct {
	Ref      string        `json:"ref"`
	Kind     string        `json:"kind"`
	Snapshot *SnapshotJSON `json:"snapshot,omitempty"`
	Source   string        `json:"source,omitempty"`
}

// DiffJSON is the document of a diff; README "Diff JSON schema".
type DiffJSON struct {
	Old      DiffSideJSON        `json:"old"`
	New      DiffSideJSON        `json:"new"`
	Filter   DiffFilterJSON      `json:"filter"`
	Ignore   []string            `json:"ignore"`
	Counts   map[string]int      `json:"counts"`
	Stat     []snapshot.TypeStat `json:"stat"`
	Changes  []snapshot.Change   `json:"changes"`
	Warnings []string            `json:"warnings"`
}

// DiffFilterJSON is what a diff was limited to.
type DiffFilterJSON struct {
	Scope  string   `json:"scope,omitempty"`
	Types  []string `json:"types,omitempty"`
	Prefix string   `json:"prefix,omitempty"`
}

// Counts counts changes per action, the four actions always present.
func Counts(changes []snapshot.Change) map[string]int {
	m := map[string]int{}
	for _, a := range []snapshot.DiffAction{snapshot.DiffAdded, snapshot.DiffModified, snapshot.DiffTouched, snapshot.DiffDeleted} {
		m[string(a)] = 0
	}
	for _, c := range changes {
		m[string(c.Action)]++
	}
	return m
}

// HistoryJSON is the document of history.
type HistoryJSON struct {
	Path    string             `json:"path,omitempty"`
	Project string             `json:"project,omitempty"`
	Ignore  []string           `json:"ignore"`
	Entries []HistoryEntryJSON `json:"entries"`
}

// HistoryEntryJSON is one entry of a history.
type HistoryEntryJSON struct {
	Snapshot  SnapshotJSON        `json:"snapshot"`
	Change    snapshot.Change     `json:"change"`
	Modifiers []snapshot.Modifier `json:"modifiers"`
}

// ErrorJSON is the document of a failed request: the message and the exit
// code the command line ends with, and for a restore that failed after
// saving a safety snapshot (RestoreFailed), that snapshot and the command
// that undoes the restore.
type ErrorJSON struct {
	Error    string        `json:"error"`
	ExitCode int           `json:"exit_code"`
	Safety   *SnapshotJSON `json:"safety,omitempty"`
	Undo     string        `json:"undo,omitempty"`
}

// Error describes err as a document, with the exit code code.
func Error(err error, code int) ErrorJSON {
	j := ErrorJSON{Error: err.Error(), ExitCode: code}
	var f *RestoreFailed
	if errors.As(err, &f) {
		s := Snapshot(f.Safety)
		j.Safety, j.Undo = &s, f.Undo
	}
	return j
}

// NonNil returns s, or an empty slice for nil (so that JSON prints [], not
// null).
func NonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
