package jsondiff

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// Line is one line of a line-based diff: a line of the old text that the new
// one lacks (Op Removed) or a line of the new text that the old one lacks
// (Op Added).
type Line struct {
	// Op is Removed or Added.
	Op Op `json:"op"`
	// OldLine is the 1-based line number in the old text (Removed lines).
	OldLine int `json:"old_line,omitempty"`
	// NewLine is the 1-based line number in the new text (Added lines).
	NewLine int `json:"new_line,omitempty"`
	// Text is the line without its line ending.
	Text string `json:"text"`
}

// String returns the line as "-12: text" or "+12: text".
func (l Line) String() string {
	if l.Op == Removed {
		return "-" + strconv.Itoa(l.OldLine) + ": " + l.Text
	}
	return "+" + strconv.Itoa(l.NewLine) + ": " + l.Text
}

// maxLCSCells bounds the work of one longest-common-subsequence table (after
// the common head and tail are set aside): beyond it, the differing middle
// parts are reported as removed and added wholesale.
const maxLCSCells = 1 << 22

// Lines compares two texts line by line, for resources that are not valid
// JSON. Lines end at "\n"; a "\r" before it is not part of the line. It
// returns the removed and added lines, in order: within each run of
// differences, the removed lines come first. Equal texts give none.
func Lines(old, new []byte) []Line {
	a, b := splitLines(old), splitLines(new)
	var out []Line
	gap := func(i0, i1, j0, j1 int) {
		for i := i0; i < i1; i++ {
			out = append(out, Line{Op: Removed, OldLine: i + 1, Text: a[i]})
		}
		for j := j0; j < j1; j++ {
			out = append(out, Line{Op: Added, NewLine: j + 1, Text: b[j]})
		}
	}
	i, j := 0, 0
	for _, p := range lcs(a, b) {
		gap(i, p[0], j, p[1])
		i, j = p[0]+1, p[1]+1
	}
	gap(i, len(a), j, len(b))
	return out
}

func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	s := string(bytes.TrimSuffix(data, []byte("\n")))
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// lcs returns the index pairs (i, j) of a longest common subsequence of a
// and b, in increasing order. The common head and tail are matched first;
// if the rest is too large for a table (maxLCSCells), it is left unmatched.
func lcs(a, b []string) [][2]int {
	var out [][2]int
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		out = append(out, [2]int{head, head})
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	ma, mb := a[head:len(a)-tail], b[head:len(b)-tail]
	n, m := len(ma), len(mb)
	if n > 0 && m > 0 && n*m <= maxLCSCells {
		// t[i][j] is the LCS length of ma[i:] and mb[j:].
		w := m + 1
		t := make([]int32, (n+1)*w)
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					t[i*w+j] = t[(i+1)*w+j+1] + 1
				} else {
					t[i*w+j] = max(t[(i+1)*w+j], t[i*w+j+1])
				}
			}
		}
		for i, j := 0, 0; i < n && j < m; {
			switch {
			case ma[i] == mb[j]:
				out = append(out, [2]int{head + i, head + j})
				i++
				j++
			case t[(i+1)*w+j] >= t[i*w+j+1]:
				i++
			default:
				j++
			}
		}
	}
	for k := tail; k > 0; k-- {
		out = append(out, [2]int{len(a) - k, len(b) - k})
	}
	return out
}

// stableOrder returns, for two orderings a and b of the same labels, the
// labels that keep their relative order: a longest increasing subsequence
// of the old positions taken in the new order. The others moved.
func stableOrder(a, b []string) map[string]bool {
	pos := make(map[string]int, len(a))
	for i, l := range a {
		pos[l] = i
	}
	seq := make([]int, len(b))
	for k, l := range b {
		seq[k] = pos[l]
	}
	// Patience sorting: tails[len] is the index in seq of the smallest tail
	// of an increasing subsequence of length len+1.
	var tails []int
	prev := make([]int, len(seq))
	for k, v := range seq {
		i := sort.Search(len(tails), func(i int) bool { return seq[tails[i]] >= v })
		if i > 0 {
			prev[k] = tails[i-1]
		} else {
			prev[k] = -1
		}
		if i == len(tails) {
			tails = append(tails, k)
		} else {
			tails[i] = k
		}
	}
	keep := make(map[string]bool, len(tails))
	if len(tails) > 0 {
		for k := tails[len(tails)-1]; k >= 0; k = prev[k] {
			keep[b[k]] = true
		}
	}
	return keep
}
