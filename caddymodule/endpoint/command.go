package endpoint

import (
	"errors"
	"fmt"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"
)

// ErrCheckFailed stands in for the error of a command function that
// failed without one.
var ErrCheckFailed = errors.New("check failed")

// SetUpCommand makes f the body of cmd, so that every failure exits
// non-zero. Every command of this module is set up with it.
//
// Caddy's WrapCommandFuncForCobra (cmd/cobra.go) hands cobra the error of
// f and turns a code above 1 into an exit status, but a code of 1
// (ExitCodeFailedStartup) with a nil error comes out as no error at all:
// exit status 0. So a failure here always carries an error, and an error
// always a failure code. Arguments that are not flags are refused too,
// without echoing them (one may be a secret typed without its flag).
func SetUpCommand(cmd *cobra.Command, f caddycmd.CommandFunc) {
	cmd.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("%d unexpected argument(s): every option is a --flag (see --help)", len(args))
		}
		return nil
	}
	cmd.RunE = caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
		code, err := f(fl)
		switch {
		case code != caddy.ExitCodeSuccess && err == nil:
			err = ErrCheckFailed
		case code == caddy.ExitCodeSuccess && err != nil:
			code = caddy.ExitCodeFailedStartup
		}
		return code, err
	})
}
