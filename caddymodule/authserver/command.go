package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "sinch-token-check",
		Usage: "--token-url <url> --client-id <id> [--client-secret <secret>] [--basic] [--scope <scope>] [--fcm-url <url> --fcm-project <number>] [--hms-url <url> --hms-app-id <id>]",
		Short: "Walks the Alt A chain as Sinch does: a token from the AS, then an FCM or HMS token with it",
		Long: `
Checks an Alt A deployment end to end, exactly as Sinch runs it: gets an
access token from the Authorization Server (sinch_oauth_server, or your own)
by client credentials, then presents it as a bearer token to the FCM token
URL (sinch_fcm) and/or the HMS token endpoint (sinch_hms), and prints each
HTTP status and answer. Access tokens are shortened in the output; the AS
token's claims (iss, aud, scope, exp) are shown, to compare with the bearer
block of the endpoints.

--token-url      The AS token endpoint (Sinch Dashboard: "Access token URL").
--client-id      The client_id ("Client Id").
--client-secret  The client_secret ("Client Secret"). If omitted, it is read
                 from $SINCH_CLIENT_SECRET, which keeps it out of the shell
                 history.
--basic          Authenticate with HTTP Basic (client_secret_basic) instead
                 of client_id/client_secret in the body (client_secret_post,
                 what Sinch does).
--scope          The scope to ask for. Default: the FCM messaging scope for
                 --fcm-url, the Huawei push scope for --hms-url.
--fcm-url        The FCM token URL ("FCM token URL"); needs --fcm-project.
--fcm-project    The Firebase project number sent as fcm_project_number.
--hms-url        The HMS token endpoint; needs --hms-app-id.
--hms-app-id     The HMS App ID sent as hms_application_id.

Without --fcm-url and --hms-url, only the AS is asked. Exits with status 1
if any answer is not 200 or an endpoint cannot be reached.
`,
		CobraFunc: func(cmd *cobra.Command) {
			f := cmd.Flags()
			f.String("token-url", "", "AS token endpoint URL")
			f.String("client-id", "", "client_id")
			f.String("client-secret", "", "client_secret (default: $SINCH_CLIENT_SECRET)")
			f.Bool("basic", false, "use client_secret_basic")
			f.String("scope", "", "scope to ask the AS for")
			f.String("fcm-url", "", "FCM token URL (sinch_fcm)")
			f.String("fcm-project", "", "Firebase project number")
			f.String("hms-url", "", "HMS token endpoint URL (sinch_hms)")
			f.String("hms-app-id", "", "HMS App ID")
			endpoint.SetUpCommand(cmd, cmdSinchTokenCheck)
		},
	})
}

// TokenCheck is what sinch-token-check does, independent of flags.
type TokenCheck struct {
	TokenURL, ClientID, ClientSecret, Scope string
	Basic                                   bool
	FCMURL, FCMProject                      string
	HMSURL, HMSAppID                        string
	Client                                  *http.Client
}

// checkTarget is one endpoint to present the AS token to.
type checkTarget struct {
	name, url, param, value, scope string
}

func cmdSinchTokenCheck(fl caddycmd.Flags) (int, error) {
	tc := TokenCheck{
		TokenURL: fl.String("token-url"), ClientID: fl.String("client-id"),
		ClientSecret: fl.String("client-secret"), Scope: fl.String("scope"), Basic: fl.Bool("basic"),
		FCMURL: fl.String("fcm-url"), FCMProject: fl.String("fcm-project"),
		HMSURL: fl.String("hms-url"), HMSAppID: fl.String("hms-app-id"),
	}
	if tc.ClientSecret == "" {
		tc.ClientSecret = os.Getenv("SINCH_CLIENT_SECRET")
	}
	ok, err := tc.Run(context.Background(), os.Stdout)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if !ok {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("%w: an answer was not 200", endpoint.ErrCheckFailed)
	}
	return caddy.ExitCodeSuccess, nil
}

func (tc *TokenCheck) targets() ([]checkTarget, error) {
	switch {
	case tc.TokenURL == "" || tc.ClientID == "":
		return nil, errors.New("--token-url and --client-id are required")
	case tc.ClientSecret == "":
		return nil, errors.New("--client-secret (or $SINCH_CLIENT_SECRET) is required")
	case (tc.FCMURL == "") != (tc.FCMProject == ""):
		return nil, errors.New("--fcm-url and --fcm-project go together")
	case (tc.HMSURL == "") != (tc.HMSAppID == ""):
		return nil, errors.New("--hms-url and --hms-app-id go together")
	}
	var ts []checkTarget
	if tc.FCMURL != "" {
		ts = append(ts, checkTarget{"FCM", tc.FCMURL, "fcm_project_number", tc.FCMProject, oauthserver.ScopeFCMMessaging})
	}
	if tc.HMSURL != "" {
		ts = append(ts, checkTarget{"HMS", tc.HMSURL, "hms_application_id", tc.HMSAppID, oauthserver.ScopeHuaweiPush})
	}
	return ts, nil
}

// run walks the chain, printing to out; ok is false when an answer was
// not 200.
func (tc *TokenCheck) Run(ctx context.Context, out io.Writer) (bool, error) {
	targets, err := tc.targets()
	if err != nil {
		return false, err
	}
	if len(targets) == 0 {
		_, ok, err := tc.asToken(ctx, out, tc.Scope)
		return ok, err
	}
	allOK := true
	for i, t := range targets {
		if i > 0 {
			fmt.Fprintln(out)
		}
		scope := tc.Scope
		if scope == "" {
			scope = t.scope
		}
		token, ok, err := tc.asToken(ctx, out, scope)
		if err != nil || !ok {
			return false, err
		}
		body := url.Values{"grant_type": {endpoint.GrantClientCredentials}, t.param: {t.value}}.Encode()
		fmt.Fprintf(out, "\n%s: POST %s (%s=%s, Authorization: Bearer)\n", t.name, t.url, t.param, t.value)
		status, answer, err := tc.post(ctx, t.url, body, "Bearer "+token)
		if err != nil {
			return false, err
		}
		fmt.Fprintf(out, "HTTP %d\n%s\n", status, redactAnswer(answer))
		allOK = allOK && status == http.StatusOK
	}
	return allOK, nil
}

// asToken asks the AS for a token as Sinch does and prints the answer.
func (tc *TokenCheck) asToken(ctx context.Context, out io.Writer, scope string) (string, bool, error) {
	form := url.Values{"grant_type": {endpoint.GrantClientCredentials}}
	if scope != "" {
		form.Set("scope", scope)
	}
	auth, method := "", "client_secret_post"
	if tc.Basic {
		method = "client_secret_basic"
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(tc.ClientID)+":"+url.QueryEscape(tc.ClientSecret)))
	} else {
		form.Set("client_id", tc.ClientID)
		form.Set("client_secret", tc.ClientSecret)
	}
	fmt.Fprintf(out, "AS: POST %s (%s, client_id=%s, scope=%q)\n", tc.TokenURL, method, tc.ClientID, scope)
	status, answer, err := tc.post(ctx, tc.TokenURL, form.Encode(), auth)
	if err != nil {
		return "", false, err
	}
	fmt.Fprintf(out, "HTTP %d\n%s\n", status, redactAnswer(answer))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(answer), &tok) != nil || tok.AccessToken == "" {
		return "", false, nil
	}
	if claims := describeClaims(tok.AccessToken); claims != "" {
		fmt.Fprintf(out, "token claims: %s\n", claims)
	}
	return tok.AccessToken, true, nil
}

func (tc *TokenCheck) post(ctx context.Context, target, body, auth string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", target, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	// A 3xx is shown, not followed: following it would send the client
	// secret or the bearer token to wherever it points.
	resp, err := httpclient.NoRedirects(tc.Client).Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("posting to %s: %w", target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", fmt.Errorf("reading the answer of %s: %w", target, err)
	}
	return resp.StatusCode, string(raw), nil
}

// redactAnswer shortens the access_token of a JSON answer so the output
// can be pasted into a ticket without handing out a live token.
func redactAnswer(answer string) string {
	var m map[string]any
	if json.Unmarshal([]byte(answer), &m) != nil {
		return answer
	}
	tok, ok := m["access_token"].(string)
	if !ok {
		return answer
	}
	m["access_token"] = redactToken(tok)
	b, err := json.Marshal(m)
	if err != nil {
		return answer
	}
	return string(b)
}

// redactToken keeps a prefix that tells the token's kind (eyJ for a JWT,
// ya29. for Google) and its length.
func redactToken(tok string) string {
	const keep = 6
	if len(tok) <= keep*2 {
		return fmt.Sprintf("[redacted, %d chars]", len(tok))
	}
	return fmt.Sprintf("%s…[redacted, %d chars]", tok[:keep], len(tok))
}

// describeClaims shows the claims of a JWT access token that the bearer
// block checks, without verifying it (this is a diagnostic).
func describeClaims(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss   string          `json:"iss"`
		Aud   json.RawMessage `json:"aud"`
		Scope string          `json:"scope"`
		Exp   int64           `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return ""
	}
	return fmt.Sprintf("iss=%s aud=%s scope=%q exp=%s", c.Iss, string(c.Aud), c.Scope,
		time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
}
