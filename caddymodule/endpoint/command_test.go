package endpoint

import (
	"errors"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// TestCommandFailureAlwaysHasAnError: whatever a command function returns,
// the cobra function it is wrapped in fails when the code is not success,
// so that Caddy's Main exits non-zero (its wrapper alone turns code 1 with
// a nil error into exit 0).
func TestCommandFailureAlwaysHasAnError(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		code    int
		err     error
		wantErr bool
	}{
		{0, nil, false},
		{1, nil, true},
		{1, boom, true},
		{2, nil, true},
		{0, boom, true},
	} {
		cmd := &cobra.Command{Use: "x"}
		SetUpCommand(cmd, func(caddycmd.Flags) (int, error) { return tc.code, tc.err })
		err := cmd.RunE(cmd, nil)
		if (err != nil) != tc.wantErr {
			t.Errorf("code %d, error %v: cobra error %v, want an error: %v", tc.code, tc.err, err, tc.wantErr)
		}
		if tc.err != nil && (err == nil || err.Error() != tc.err.Error()) {
			t.Errorf("code %d: the command's error %v is lost: %v", tc.code, tc.err, err)
		}
	}
	cmd := &cobra.Command{Use: "x"}
	SetUpCommand(cmd, func(caddycmd.Flags) (int, error) { return 0, nil })
	if err := cmd.Args(cmd, []string{"s3cret-typed-without-a-flag"}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a stray argument: %v; want an error that does not echo it", err)
	}
}
