package snapshot

import (
	"bytes"
	"context"
	"strings"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/jsondiff"
)

// details reads both versions of a changed resource and describes the
// difference.
func (r *Repository) details(ctx context.Context, ch *Change, a, b *diffSide, p diffPair, ignore []string) error {
	var old, new []byte
	var err error
	if p.a != nil {
		if old, err = a.content(ctx, p.a, p.path); err != nil {
			return err
		}
		ch.OldID = p.a.id.String()
	}
	if p.b != nil {
		if new, err = b.content(ctx, p.b, p.path); err != nil {
			return err
		}
		ch.NewID = p.b.id.String()
	}
	describe(ch, old, new, p.a != nil, p.b != nil, ignore)
	return nil
}

// describe fills the details of ch from the content of the two versions
// (hasOld and hasNew say which exist).
func describe(ch *Change, old, new []byte, hasOld, hasNew bool, ignore []string) {
	kind := scope.BinaryKindOf(ch.Path)
	if kind != "" || (hasOld && !isText(old)) || (hasNew && !isText(new)) {
		ch.Binary = describeBinary(ch.Path, kind, old, new, hasOld, hasNew, ignore)
		return
	}
	if !hasOld || !hasNew {
		return
	}
	fields, err := jsondiff.Diff(old, new, jsondiff.Options{Ignore: ignore, Identities: scope.IdentityKeys()})
	if err == nil {
		ch.Fields = fields
		ch.Trivial = len(fields) == 0
		return
	}
	if looksJSON(ch.Path, old) || looksJSON(ch.Path, new) {
		ch.Malformed = err.Error()
	}
	ch.Text = jsondiff.Lines(old, new)
}

func describeBinary(path string, kind scope.BinaryKind, old, new []byte, hasOld, hasNew bool, ignore []string) *BinaryChange {
	bc := &BinaryChange{Kind: kind}
	if kind == "" || kind == scope.BinaryStatistics {
		return bc
	}
	var oh, nh *scope.BinaryHeader
	var problems []string
	read := func(side string, data []byte) *scope.BinaryHeader {
		h, err := scope.ReadBinaryHeader(path, data)
		if err != nil {
			problems = append(problems, side+": "+strings.TrimPrefix(err.Error(), path+": "))
		}
		return h
	}
	if hasOld {
		oh = read("old", old)
	}
	if hasNew {
		nh = read("new", new)
	}
	bc.Unreadable = strings.Join(problems, "; ")
	if kind == scope.BinaryUUID {
		if oh != nil {
			bc.OldUUID = oh.UUID
		}
		if nh != nil {
			bc.NewUUID = nh.UUID
		}
		return bc
	}
	if oh != nil {
		bc.OldHeader = jsondiff.Encode(oh.Fields)
	}
	if nh != nil {
		bc.NewHeader = jsondiff.Encode(nh.Fields)
	}
	if oh != nil && nh != nil {
		bc.Header = jsondiff.Compare(oh.Fields, nh.Fields, jsondiff.Options{Ignore: ignore, Identities: scope.IdentityKeys()})
	}
	return bc
}

// isText reports whether data is UTF-8 without NUL bytes.
func isText(data []byte) bool {
	return utf8.Valid(data) && bytes.IndexByte(data, 0) < 0
}

// looksJSON reports whether a resource is meant to be JSON: its key has a
// .json extension (".json.bad" included) or its content starts like a JSON
// object or array.
func looksJSON(path string, data []byte) bool {
	if strings.HasSuffix(path, ".json") || strings.Contains(path, ".json.") {
		return true
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}
