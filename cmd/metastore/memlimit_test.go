package main

import (
	"runtime/debug"
	"testing"
)

// TestLowerMemoryLimit checks verify's soft heap limit: lowered from the
// CLI's 200 MiB while it runs and restored after, left alone when
// GOMEMLIMIT sets it or it is lower already.
func TestLowerMemoryLimit(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(orig)
	for _, tc := range []struct {
		name       string
		before     int64
		gomemlimit string
		during     int64
	}{
		{"the CLI's limit", 200 << 20, "", verifyMemoryLimit},
		{"GOMEMLIMIT set", 200 << 20, "300MiB", 200 << 20},
		{"lower already", 100 << 20, "", 100 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(tc.before)
			e := &env{getenv: func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.gomemlimit
				}
				return ""
			}}
			restore := e.lowerMemoryLimit(verifyMemoryLimit)
			if got := debug.SetMemoryLimit(-1); got != tc.during {
				t.Errorf("limit while verifying %d, want %d", got, tc.during)
			}
			restore()
			if got := debug.SetMemoryLimit(-1); got != tc.before {
				t.Errorf("limit after %d, want %d", got, tc.before)
			}
		})
	}
}
