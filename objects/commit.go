package objects

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Signature is the author or committer of a commit.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Commit is a git commit: a tree, its parents and a message.
type Commit struct {
	Tree      ID
	Parents   []ID
	Author    Signature
	Committer Signature
	Message   string
}

// EncodeCommit returns the canonical git encoding of c.
func EncodeCommit(c Commit) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "tree %s\n", c.Tree)
	for _, p := range c.Parents {
		fmt.Fprintf(&b, "parent %s\n", p)
	}
	writeSig(&b, "author", c.Author)
	writeSig(&b, "committer", c.Committer)
	b.WriteByte('\n')
	b.WriteString(c.Message)
	return b.Bytes()
}

func writeSig(b *bytes.Buffer, field string, s Signature) {
	clean := func(v string) string {
		return strings.Map(func(r rune) rune {
			switch r {
			case '<', '>', '\n', 0:
				return -1
			}
			return r
		}, v)
	}
	_, off := s.When.Zone()
	sign := '+'
	if off < 0 {
		sign = '-'
		off = -off
	}
	fmt.Fprintf(b, "%s %s <%s> %d %c%02d%02d\n", field, clean(s.Name), clean(s.Email),
		s.When.Unix(), sign, off/3600, (off%3600)/60)
}

// ReadCommit reads and decodes the commit id.
func (r *Repository) ReadCommit(id ID) (Commit, error) {
	data, err := r.ReadKind(id, KindCommit)
	if err != nil {
		return Commit{}, err
	}
	return DecodeCommit(data)
}

// DecodeCommit parses the content of a git commit object.
func DecodeCommit(data []byte) (c Commit, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: commit: %v", ErrCorrupt, p)
		}
	}()
	o := &plumbing.MemoryObject{}
	o.SetType(plumbing.CommitObject)
	o.Write(data)
	var gc object.Commit
	if err := gc.Decode(o); err != nil {
		return Commit{}, fmt.Errorf("%w: commit: %v", ErrCorrupt, err)
	}
	if !bytes.HasPrefix(data, []byte("tree ")) || gc.TreeHash.IsZero() {
		return Commit{}, fmt.Errorf("%w: commit has no tree", ErrCorrupt)
	}
	c = Commit{
		Tree:      ID(gc.TreeHash),
		Author:    Signature{Name: gc.Author.Name, Email: gc.Author.Email, When: gc.Author.When},
		Committer: Signature{Name: gc.Committer.Name, Email: gc.Committer.Email, When: gc.Committer.When},
		Message:   gc.Message,
	}
	for _, p := range gc.ParentHashes {
		c.Parents = append(c.Parents, ID(p))
	}
	return c, nil
}
