package scrub

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

// TestSecrets checks that every secret leaves the message, that an error
// without any is returned as it is, and that errors.Is still sees the
// wrapped sentinel.
func TestSecrets(t *testing.T) {
	base := fmt.Errorf("GET https://user:hunter2@host/x?token=t0k: %w", fs.ErrPermission)
	for _, tc := range []struct {
		name    string
		err     error
		secrets []string
		want    string
		same    bool
	}{
		{name: "nil", err: nil, secrets: []string{"hunter2"}},
		{name: "two secrets", err: base, secrets: []string{"hunter2", "", "t0k"}, want: "GET https://user:***@host/x?token=***: permission denied"},
		{name: "none present", err: base, secrets: []string{"other"}, want: base.Error(), same: true},
		{name: "no secrets", err: base, want: base.Error(), same: true},
	} {
		got := Secrets(tc.err, tc.secrets)
		if tc.err == nil {
			if got != nil {
				t.Errorf("%s: Secrets(nil) = %v, want nil", tc.name, got)
			}
			continue
		}
		if got.Error() != tc.want {
			t.Errorf("%s: message %q, want %q", tc.name, got.Error(), tc.want)
		}
		if tc.same && got != tc.err {
			t.Errorf("%s: got a new error %#v, want the error itself", tc.name, got)
		}
		if !errors.Is(got, fs.ErrPermission) {
			t.Errorf("%s: errors.Is(%v, fs.ErrPermission) = false, want true", tc.name, got)
		}
	}
}
