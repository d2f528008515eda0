// Package scrub takes secrets (passwords, keys, tokens) out of error
// messages, for the remotes of objects/gitremote and objects/s3, whose
// clients may quote a URL or a request that carries one. Like iocount, it
// imports nothing but the standard library (objects/deps_test.go keeps it
// so).
package scrub

import "strings"

// Secrets returns err with every non-empty secret in its message replaced
// by "***". It returns err itself when its message holds none of them, and
// nil for nil. errors.Is and errors.As see through to err.
func Secrets(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, "***")
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

// scrubbed is an error with its secrets taken out of its message.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }

// Unwrap keeps errors.Is working; the wrapped error's own message is never
// printed by this program.
func (s *scrubbed) Unwrap() error { return s.err }
