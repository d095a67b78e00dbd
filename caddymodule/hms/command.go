package hms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/internal/httpclient"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "sinch-hms-assertion",
		Usage: "--app-key <key> [--secret <base64>] --hms-app-id <id> --aud <url> [--ttl <duration>] [--post <url> [--check]]",
		Short: "Mints a Sinch client assertion, and optionally posts it to a token endpoint",
		Long: `
Mints a client assertion JWT exactly as Sinch does when it asks a customer's
endpoint for a Huawei HMS access token (Alt B), and prints it. With --post,
sends it to that URL as Sinch would and prints the HTTP status and answer:
the quickest check that a sinch_hms deployment works end to end.

--app-key     The Sinch Application Key.
--secret      The Sinch Application Secret (standard base64). If omitted, it is
              read from the SINCH_APPLICATION_SECRET environment variable, which
              keeps it out of the shell history.
--hms-app-id  The HMS App ID the token is for (the assertion's sub).
--aud         The token endpoint URL as configured in the Sinch Dashboard (aud).
              Default: the --post URL.
--ttl         The assertion's lifetime (exp - iat). Default: 5m.
--post        POST the assertion to this token endpoint URL and print the answer.
--check       With --post: do not print the token; explain the answer in words
              instead (which check failed and what to fix). Exits non-zero
              unless a token came back.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("app-key", "", "Sinch Application Key")
			cmd.Flags().String("secret", "", "Sinch Application Secret, base64 (default: $SINCH_APPLICATION_SECRET)")
			cmd.Flags().String("hms-app-id", "", "HMS App ID (sub)")
			cmd.Flags().String("aud", "", "audience: the token endpoint URL (default: --post)")
			cmd.Flags().Duration("ttl", 5*time.Minute, "assertion lifetime")
			cmd.Flags().String("post", "", "token endpoint URL to POST the assertion to")
			cmd.Flags().Bool("check", false, "with --post: explain the answer (which check failed, what to fix)")
			endpoint.SetUpCommand(cmd, cmdSinchHMSAssertion)
		},
	})
}

func cmdSinchHMSAssertion(fl caddycmd.Flags) (int, error) {
	assertion, err := mintFromFlags(fl)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	postURL := fl.String("post")
	if postURL == "" && fl.Bool("check") {
		return caddy.ExitCodeFailedStartup, errors.New("--check needs --post <token endpoint URL>")
	}
	if postURL == "" {
		fmt.Println(assertion)
		return caddy.ExitCodeSuccess, nil
	}
	if fl.Bool("check") {
		if !checkDeployment(context.Background(), checkOutput, postURL, assertion) {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("%w: no token came back", endpoint.ErrCheckFailed)
		}
		return caddy.ExitCodeSuccess, nil
	}
	status, body, err := postAssertion(context.Background(), postURL, assertion)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	fmt.Printf("HTTP %d\n%s\n", status, body)
	if status != http.StatusOK {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("the endpoint answered HTTP %d, not a token", status)
	}
	return caddy.ExitCodeSuccess, nil
}

// mintFromFlags checks the flags and mints the assertion they describe.
func mintFromFlags(fl caddycmd.Flags) (string, error) {
	secretB64 := fl.String("secret")
	if secretB64 == "" {
		secretB64 = os.Getenv("SINCH_APPLICATION_SECRET")
	}
	aud := fl.String("aud")
	if aud == "" {
		aud = fl.String("post")
	}
	switch {
	case fl.String("app-key") == "":
		return "", errors.New("--app-key is required")
	case secretB64 == "":
		return "", errors.New("--secret (or $SINCH_APPLICATION_SECRET) is required")
	case fl.String("hms-app-id") == "":
		return "", errors.New("--hms-app-id is required")
	case aud == "":
		return "", errors.New("--aud (or --post) is required")
	}
	secret, err := sinchauth.DecodeSecret(secretB64)
	if err != nil {
		return "", fmt.Errorf("--secret: %w", err)
	}
	return sinchauth.Mint(sinchauth.MintParams{
		ApplicationKey:   fl.String("app-key"),
		Secret:           secret,
		HMSApplicationID: fl.String("hms-app-id"),
		Audience:         aud,
		IssuedAt:         time.Now(),
		Lifetime:         fl.Duration("ttl"),
	})
}

// postAssertion sends the token request Sinch sends and returns the status
// and body of the answer.
func postAssertion(ctx context.Context, target, assertion string) (int, string, error) {
	form := url.Values{
		"grant_type":            {endpoint.GrantClientCredentials},
		"scope":                 {sinchauth.HuaweiPushScope},
		"client_assertion_type": {endpoint.AssertionTypeJWTBearer},
		"client_assertion":      {assertion},
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", fmt.Errorf("--post: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := httpclient.NoRedirects(nil).Do(req) // a 3xx is shown, not followed with the assertion
	if err != nil {
		return 0, "", fmt.Errorf("posting to %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, string(body), nil
}
