package scope

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says what a Scope covers: the whole metastore, one project or one
// cube.
type Kind int8

const (
	// System is every resource of the metastore.
	System Kind = iota
	// Project is one Kylin project and everything it needs.
	Project
	// Cube is one cube (on Kylin 5, one model) and everything it needs.
	Cube
)

// String returns "system", "project" or "cube".
func (k Kind) String() string {
	switch k {
	case System:
		return "system"
	case Project:
		return "project"
	case Cube:
		return "cube"
	}
	return fmt.Sprintf("Kind(%d)", int8(k))
}

// Scope names a part of a metastore: the whole system, a project or a cube.
// It is a small comparable value, usable as a map key; String and Parse
// round-trip.
type Scope struct {
	// Kind is System, Project or Cube.
	Kind Kind
	// Name is the project name for Project, the cube name for Cube and ""
	// for System.
	Name string
}

// Sentinel errors, wrapped by the errors of this package and checked with
// errors.Is.
var (
	// ErrInvalidScope is wrapped by errors about scope strings or names
	// that cannot be parsed or used (Parse, Resolve).
	ErrInvalidScope = errors.New("invalid scope")
	// ErrUnknownProject is wrapped by the *NotFoundError that Resolve
	// returns when a project scope names a project the metastore lacks.
	ErrUnknownProject = errors.New("unknown project")
	// ErrUnknownCube is wrapped by the *NotFoundError that Resolve returns
	// when a cube scope names a cube (on Kylin 5, a model alias) the
	// metastore lacks.
	ErrUnknownCube = errors.New("unknown cube")
	// ErrAmbiguousCube is wrapped by the error Resolve returns when a cube
	// scope on a Kylin 5 metastore names a model alias that several
	// projects use; the message lists the qualified "project.alias" names
	// that do resolve. It only happens on Kylin 5, so it says "model".
	ErrAmbiguousCube = errors.New("ambiguous model")
)

// SystemScope returns the scope of the whole metastore.
func SystemScope() Scope { return Scope{Kind: System} }

// ProjectScope returns the scope of the project called name.
func ProjectScope(name string) Scope { return Scope{Kind: Project, Name: name} }

// CubeScope returns the scope of the cube called name. On a Kylin 5
// metastore name is a model alias, or "project.alias" when the alias is used
// by several projects.
func CubeScope(name string) Scope { return Scope{Kind: Cube, Name: name} }

// Parse parses "system", "project/NAME" or "cube/NAME", the form String
// prints. A name must be valid as one component of a git ref name (see
// CheckName). The error wraps ErrInvalidScope.
func Parse(s string) (Scope, error) {
	if s == "system" {
		return SystemScope(), nil
	}
	kind, name, ok := strings.Cut(s, "/")
	if !ok {
		return Scope{}, fmt.Errorf("%w %q: want system, project/NAME or cube/NAME", ErrInvalidScope, s)
	}
	var sc Scope
	switch kind {
	case "project":
		sc = ProjectScope(name)
	case "cube":
		sc = CubeScope(name)
	default:
		return Scope{}, fmt.Errorf("%w %q: unknown kind %q (want system, project or cube)", ErrInvalidScope, s, kind)
	}
	if err := CheckName(name); err != nil {
		return Scope{}, fmt.Errorf("%w %q: %v", ErrInvalidScope, s, err)
	}
	return sc, nil
}

// MustParse is Parse for scopes known to be valid, as in tests and
// examples. It panics if s does not parse.
func MustParse(s string) Scope {
	sc, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sc
}

// CheckName reports whether name can be the name of a project or cube scope:
// it must be non-empty and made of letters, digits, '_', '-' and '.', must
// not start or end with '.', must not contain "..", and must not end with
// ".lock", so that it is a valid git ref path component. The error wraps
// ErrInvalidScope.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidScope)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name %q is not valid UTF-8", ErrInvalidScope, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("%w: name %q starts with '.'", ErrInvalidScope, name)
	case strings.HasSuffix(name, "."):
		return fmt.Errorf("%w: name %q ends with '.'", ErrInvalidScope, name)
	case strings.HasSuffix(name, ".lock"):
		return fmt.Errorf("%w: name %q ends with \".lock\"", ErrInvalidScope, name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%w: name %q contains \"..\"", ErrInvalidScope, name)
	}
	for _, r := range name {
		if r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			continue
		}
		return fmt.Errorf("%w: name %q contains %q (allowed: letters, digits, _ - .)", ErrInvalidScope, name, r)
	}
	return nil
}

// String returns "system", "project/NAME" or "cube/NAME"; Parse reads it
// back.
func (s Scope) String() string {
	if s.Kind == System && s.Name == "" {
		return "system"
	}
	return s.Kind.String() + "/" + s.Name
}

// Check reports whether s is a scope Resolve accepts: a known Kind, an empty
// Name for System and a valid name (CheckName) otherwise. The error wraps
// ErrInvalidScope.
func (s Scope) Check() error {
	switch s.Kind {
	case System:
		if s.Name != "" {
			return fmt.Errorf("%w: system scope with name %q", ErrInvalidScope, s.Name)
		}
		return nil
	case Project, Cube:
		if err := CheckName(s.Name); err != nil {
			return fmt.Errorf("%s scope: %w", s.Kind, err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown kind %d", ErrInvalidScope, int8(s.Kind))
}

// MarshalText encodes s as String does, so that a Scope prints as a string
// in JSON.
func (s Scope) MarshalText() ([]byte, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes what MarshalText encodes, using Parse.
func (s *Scope) UnmarshalText(b []byte) error {
	sc, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = sc
	return nil
}

// NotFoundError is returned by Resolve when a project or cube scope names
// something the metastore does not have. It unwraps to ErrUnknownProject or
// ErrUnknownCube, and carries the nearest existing names so that a caller can
// suggest them.
type NotFoundError struct {
	// Kind is Project or Cube.
	Kind Kind
	// Name is the name that was not found.
	Name string
	// Closest are existing names within edit distance 3 of Name (ignoring
	// case), nearest first, at most 5.
	Closest []string
	// Unparsed are the keys of resources that could not be parsed and may
	// define Name (Kylin 5 model descriptors mentioning the alias).
	Unparsed []string
	// Model is set when the cube is a Kylin 5 model (Resolve on a Kylin 5
	// layout, or a command that names models): the message says "model".
	Model bool
}

// Error returns, for example, `project "defualt" not found (closest:
// default)`.
func (e *NotFoundError) Error() string {
	kind := e.Kind.String()
	if e.Model && e.Kind == Cube {
		kind = "model"
	}
	msg := fmt.Sprintf("%s %q not found", kind, e.Name)
	var notes []string
	if len(e.Closest) > 0 {
		notes = append(notes, "closest: "+strings.Join(e.Closest, ", "))
	}
	if len(e.Unparsed) > 0 {
		notes = append(notes, "may be defined by unparseable "+strings.Join(e.Unparsed, ", "))
	}
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	return msg
}

// Unwrap returns ErrUnknownProject or ErrUnknownCube.
func (e *NotFoundError) Unwrap() error {
	if e.Kind == Project {
		return ErrUnknownProject
	}
	return ErrUnknownCube
}

// maxSuggestDistance and maxSuggestions bound NotFoundError.Closest.
const (
	maxSuggestDistance = 3
	maxSuggestions     = 5
)

// closest returns the names within maxSuggestDistance of name, ignoring
// case, nearest first then in byte order, at most maxSuggestions.
func closest(name string, names []string) []string {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	lname := strings.ToLower(name)
	for _, n := range names {
		if d := editDistance(lname, strings.ToLower(n)); d <= maxSuggestDistance {
			cands = append(cands, cand{n, d})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for _, c := range cands {
		if len(out) == maxSuggestions {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
