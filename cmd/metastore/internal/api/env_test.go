package api

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// TestExitCode maps each sentinel, wrapped as the use cases return it, to
// the README's exit code: the command line and the console (its HTTP
// status, its KE envelope) read the same table.
func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("disk on fire"), ExitFailure},
		{Usagef("bad flag"), ExitUsage},
		{scope.ErrAmbiguousCube, ExitUsage},
		{snapshot.ErrRemoteURL, ExitUsage},
		{snapshot.ErrNoRemote, ExitUsage},
		{snapshot.ErrNoInstance, ExitUsage},
		{snapshot.ErrNotFound, ExitNotFound},
		{scope.ErrUnknownProject, ExitNotFound},
		{snapshot.ErrUnknownRemote, ExitNotFound},
		{snapshot.ErrEmptyPolicy, ExitUsage},
		{snapshot.ErrNothingToUndo, ExitNotFound},
		{snapshot.ErrConflict, ExitRefused},
		{snapshot.ErrForeign, ExitRefused},
		{snapshot.ErrInsideRepository, ExitRefused},
		{snapshot.ErrNonFastForward, ExitRefused},
		{snapshot.ErrRemoteExists, ExitRefused},
		{snapshot.ErrNoRepository, ExitRepo},
		{objects.ErrCorrupt, ExitRepo},
	} {
		err := tc.err
		if err != nil {
			err = fmt.Errorf("some context: %w", err)
		}
		if got := ExitCode(err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, tc.want)
		}
	}
}
