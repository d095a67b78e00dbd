package hms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// The --check mode of `caddy sinch-hms-assertion`: post a freshly minted
// assertion to a live endpoint and explain the answer in words, from the
// operator's side: which check failed and what to change.

// explanation is what --check says about one reason.
type explanation struct {
	check string // the check that failed, in words
	fix   string // what the operator should change
}

// explanations covers every refusal of an assertion that a well-formed
// request can meet (the others are request-shape refusals, see
// requestShapeFix), keyed by the refusal table's reasons.
var explanations = map[string]explanation{
	string(sinchauth.ReasonSignature): {"signature: no secret configured for this application key verifies the assertion",
		"the --secret you used and the sinch_application secret(s) in the Caddyfile differ. Copy the Application Secret of this Sinch application from the Sinch Dashboard into sinch_application (during a rotation, list the old and the new secret)."},
	string(sinchauth.ReasonUnknownApp): {"application key: the endpoint has no sinch_application with this key",
		"add `sinch_application <key> <secret>` for this Application Key, or check that --app-key is the key of the Sinch application that uses this endpoint."},
	string(sinchauth.ReasonAudience): {"audience: the assertion's aud is not an audience this endpoint accepts",
		"aud must be the token URL exactly as entered in the Sinch Dashboard. If Caddy sits behind a proxy or the public URL differs from what Caddy sees (scheme, host, port, path), set `audience <public token URL>` in sinch_hms; with --aud you can test another value."},
	string(sinchauth.ReasonExpired): {"time: the assertion had already expired when it arrived",
		"the clocks of this machine and the Caddy server disagree by more than clock_skew (default 60s). Sync both with NTP; raise clock_skew only if you must."},
	string(sinchauth.ReasonIssuedInFuture): {"time: the assertion was issued in the future, as the server's clock sees it",
		"the server's clock is behind this machine's by more than clock_skew. Sync both with NTP."},
	string(sinchauth.ReasonNotYetValid): {"time: the assertion's nbf is in the future, as the server's clock sees it",
		"sync the clocks of this machine and the server with NTP."},
	string(sinchauth.ReasonKeyID): {"key ID: kid is malformed or its date is more than a day away from iat",
		"usually a clock problem on the signing side; sync the clocks with NTP."},
	string(sinchauth.ReasonLifetime): {"lifetime: exp - iat is longer than max_assertion_lifetime",
		"use a shorter --ttl, or raise max_assertion_lifetime (default 1h) if you trust longer-lived assertions."},
	string(sinchauth.ReasonReplay): {"replay: this assertion's nonce was already used",
		"nothing to fix if you sent the same assertion twice on purpose. If Sinch sees this with several Caddy instances behind a load balancer, they need a shared replay store."},
	endpoint.UnknownHMSApp.Reason: {"HMS application: the endpoint has no hms_application with this App ID",
		"add `hms_application <App ID> <App secret>` to sinch_hms, or correct the HMS App ID (--hms-app-id, and in the Sinch Dashboard)."},
	string(sinchauth.ReasonIssuer):         {"issuer: iss is not //rtc.sinch.com/applications/<application key>", "the assertion was not made the way Sinch makes them; nothing to change in Caddy."},
	string(sinchauth.ReasonAppKeyMismatch): {"application key: the payload's key differs from the header's", "the assertion was not made the way Sinch makes them; nothing to change in Caddy."},
	string(sinchauth.ReasonScope):          {"scope: the assertion's scope is not the Huawei push scope", "the assertion was not made the way Sinch makes them; nothing to change in Caddy."},
	string(sinchauth.ReasonMissingClaim):   {"claims: a required claim (iat, exp, iss, sub, nonce) is missing", "the assertion was not made the way Sinch makes them; nothing to change in Caddy."},
	string(sinchauth.ReasonAlgorithm):      {"algorithm: alg is not HS256", "not an assertion Sinch makes; nothing to change in Caddy."},
	string(sinchauth.ReasonCritHeader):     {"header: a crit header is present", "not an assertion Sinch makes; nothing to change in Caddy."},
	string(sinchauth.ReasonMalformed):      {"format: the assertion is not a well-formed compact JWT", "something between this machine and Caddy changed the request body; post straight to Caddy to check."},
	string(sinchauth.ReasonReplayStore):    {"replay store: the endpoint could not record the nonce", "the replay store is down or unreachable from Caddy; check it and Caddy's log."},
	endpoint.HuaweiRejected.Reason: {"Huawei: Huawei refused the HMS App ID or App secret configured for this HMS application",
		"the assertion passed every check; the Huawei credentials are wrong. Copy the App ID and App secret from AppGallery Connect (Project settings > App information) into hms_application."},
	endpoint.HuaweiUnavailable.Reason: {"Huawei: no token could be fetched from Huawei just now (down, throttled or too slow) and none is cached",
		"the assertion passed every check. Usually transient: Sinch retries after Retry-After. If it lasts, check that Caddy can reach huawei_token_url (firewall, DNS, proxy) and see GET /sinch_hms/status on Caddy's admin endpoint."},
	endpoint.BearerNotConfigured.Reason: {"flow: a bearer token was sent but Alt A is not configured", "send a client assertion, or configure `bearer` in sinch_hms."},
	endpoint.AssertionNotConfigured.Reason: {"flow: this endpoint takes bearer tokens (Alt A) only: it has no sinch_application",
		"add `sinch_application <application key> <secret>` to sinch_hms for Alt B, or have Sinch use Alt A with a bearer token."},
}

// requestShapeFix is said about errors of the request itself, which the
// command always builds right: something in between must have changed it.
const requestShapeFix = "this command sends exactly what Sinch sends, so something between it and sinch_hms changed the request (a proxy, a rewrite, another handler on the route); post straight to the route served by sinch_hms."

// checkOutput is where --check writes; tests swap it.
var checkOutput io.Writer = os.Stdout

var reasonInDescription = regexp.MustCompile(`^client assertion rejected \(([a-z_]+)\)`)

// answerReason finds the reason of an error answer from its code and
// description (the reason itself is not part of the RFC 6749 answer).
func answerReason(status int, code, description string) string {
	if m := reasonInDescription.FindStringSubmatch(description); m != nil {
		return m[1]
	}
	switch {
	case code == endpoint.UnknownHMSApp.Code:
		return endpoint.UnknownHMSApp.Reason
	case code == endpoint.HuaweiRejected.Code && strings.Contains(description, "Huawei"):
		return endpoint.HuaweiRejected.Reason
	case code == oauthresp.ErrTemporarilyUnavailable && strings.Contains(description, "replay store"):
		return string(sinchauth.ReasonReplayStore)
	case code == endpoint.HuaweiUnavailable.Code:
		return endpoint.HuaweiUnavailable.Reason
	case code == endpoint.AssertionNotConfigured.Code && strings.Contains(description, "client assertions are not accepted"):
		return endpoint.AssertionNotConfigured.Reason
	case code == endpoint.BearerNotConfigured.Code && strings.Contains(description, "bearer"):
		return endpoint.BearerNotConfigured.Reason
	}
	return ""
}

// explainAnswer turns a token endpoint answer into lines for an operator.
// It never repeats the access token. ok is true for a token answer.
func explainAnswer(status int, body []byte) (ok bool, lines []string) {
	var ans struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   *int64 `json:"expires_in"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return false, []string{
			fmt.Sprintf("HTTP %d, and the answer is not OAuth 2.0 JSON.", status),
			"FAILED: no sinch_hms handler answered at this URL.",
			"Fix: check the URL (scheme, host, port, path) against the route that holds sinch_hms in the Caddyfile.",
		}
	}
	if status == http.StatusOK && ans.AccessToken != "" {
		left := "missing"
		if ans.ExpiresIn != nil {
			left = fmt.Sprintf("%d s", *ans.ExpiresIn)
		}
		return true, []string{
			fmt.Sprintf("HTTP 200: a %s token (%d characters, expires_in %s).", ans.TokenType, len(ans.AccessToken), left),
			"OK: every check passed and Huawei gave a token; Sinch will get tokens with this application key, secret and HMS App ID.",
		}
	}
	lines = []string{fmt.Sprintf("HTTP %d %s: %s", status, ans.Error, ans.Description)}
	reason := answerReason(status, ans.Error, ans.Description)
	if ex, known := explanations[reason]; known {
		return false, append(lines,
			fmt.Sprintf("FAILED check: %s (%s).", ex.check, reason),
			"Fix: "+ex.fix)
	}
	return false, append(lines,
		fmt.Sprintf("FAILED: the request itself was refused (%s).", ans.Error),
		"Fix: "+requestShapeFix)
}

// checkDeployment posts assertion to endpoint and writes the explanation
// to out. It reports whether the endpoint answered with a token.
func checkDeployment(ctx context.Context, out io.Writer, target, assertion string) bool {
	status, body, err := postAssertion(ctx, target, assertion)
	if err != nil {
		fmt.Fprintf(out, "FAILED: %v\nFix: check that Caddy runs and that this machine can reach %s.\n", err, target)
		return false
	}
	ok, lines := explainAnswer(status, []byte(body))
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	return ok
}
