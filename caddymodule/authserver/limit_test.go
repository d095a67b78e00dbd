package authserver

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

// trustLoopback makes Caddy take the client IP from X-Forwarded-For of a
// loopback peer, so that one test plays several source addresses.
const trustLoopback = `	servers {
		trusted_proxies static 127.0.0.1/32 ::1/128
		client_ip_headers X-Forwarded-For
	}`

// Addresses of the guessing tests (documentation ranges).
const (
	attackerIP = "203.0.113.7"
	sinchIP    = "198.51.100.2"
)

// guessSite is a site with the AS under its own issuer (so its limiter is
// its own), at ASPath and, with a second issuer, at /other (a stand-in
// for a second instance).
func guessSite(keys harness.ASKeys, issuer, extra string) string {
	return harness.Base + " {" + harness.ASRoute(keys.PrivPath, "issuer "+issuer+"\n\t\t\t"+extra) + `
	route /other {
		uri replace /other ` + harness.ASPath + `
		sinch_oauth_server {
			client ` + harness.ClientID + " " + harness.ClientSecret + `
			signing_key ` + keys.PrivPath + `
			issuer ` + issuer + `/other
			` + extra + `
		}
	}
}
`
}

// tokenFrom posts the client's credentials (secret replaced by secret if
// set) as coming from ip.
func tokenFrom(t *testing.T, tester *caddytest.Tester, path, ip, secret string) harness.Answer {
	t.Helper()
	form := harness.ClientCredentials(oauthserver.ScopeFCMMessaging)
	if secret != "" {
		form.Set("client_secret", secret)
	}
	return harness.PostForm(t, tester.Client, harness.Base+path, form.Encode(), "X-Forwarded-For", ip)
}

func wantLimited(t *testing.T, a harness.Answer) {
	t.Helper()
	a.WantError(t, http.StatusTooManyRequests, "invalid_client")
	if ra, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q, want whole seconds", a.Header.Get("Retry-After"))
	}
}

// TestGuessLimitThroughCaddy: ten wrong secrets from one address are
// compared (401), the eleventh is not (429, Retry-After), nor is a correct
// secret from that address; Sinch's address still gets its token. A
// reload keeps the buckets; a second of the clock lets one more guess in.
func TestGuessLimitThroughCaddy(t *testing.T) {
	clock := harness.UseTestClock(t)
	keys := harness.NewASKeys(t)
	site := guessSite(keys, "https://guess.test", "")
	tester := harness.StartCaddyWith(t, trustLoopback, site)
	before := harness.Metrics(t)
	for i := range 10 {
		a := tokenFrom(t, tester, harness.ASPath, attackerIP, fmt.Sprintf("wrong-secret-%02d-xxxxxxxx", i))
		a.WantError(t, http.StatusUnauthorized, "invalid_client")
	}
	wantLimited(t, tokenFrom(t, tester, harness.ASPath, attackerIP, "wrong-secret-10-xxxxxxxx"))
	wantLimited(t, tokenFrom(t, tester, harness.ASPath, attackerIP, "")) // the right secret: not compared
	tokenFrom(t, tester, harness.ASPath, sinchIP, "").WantToken(t)
	harness.Delta(t, before, harness.Metrics(t), `caddy_sinch_oauth_server_rejections_total{reason="rate_limited"}`, 2)

	// A reload (the same config again) keeps the attacker's bucket.
	tester = harness.StartCaddyWith(t, trustLoopback, site)
	wantLimited(t, tokenFrom(t, tester, harness.ASPath, attackerIP, "wrong-secret-11-xxxxxxxx"))
	tokenFrom(t, tester, harness.ASPath, sinchIP, "").WantToken(t)

	clock.Advance(time.Second)
	tokenFrom(t, tester, harness.ASPath, attackerIP, "wrong-secret-12-xxxxxxxx").WantError(t, http.StatusUnauthorized, "invalid_client")
	wantLimited(t, tokenFrom(t, tester, harness.ASPath, attackerIP, "wrong-secret-13-xxxxxxxx"))

	// The other handler (another issuer) counts on its own in memory.
	tokenFrom(t, tester, "/other", attackerIP, "wrong-secret-14-xxxxxxxx").WantError(t, http.StatusUnauthorized, "invalid_client")
}

// TestGuessLimitSharedThroughRedis: with `limit_store redis`, guesses at
// one handler count at another (two instances sharing a Redis), and Sinch
// is still served by both.
func TestGuessLimitSharedThroughRedis(t *testing.T) {
	harness.UseTestClock(t)
	keys := harness.NewASKeys(t)
	rds := redistest.Start(t, redistest.Options{})
	store := fmt.Sprintf("limit_store redis %s {\n\t\t\t\tkey_prefix guesstest:\n\t\t\t}", rds.URL())
	tester := harness.StartCaddyWith(t, trustLoopback, guessSite(keys, "https://guess-redis.test", store))
	for i := range 10 {
		path := harness.ASPath
		if i%2 == 1 {
			path = "/other"
		}
		tokenFrom(t, tester, path, attackerIP, fmt.Sprintf("wrong-secret-%02d-xxxxxxxx", i)).WantError(t, http.StatusUnauthorized, "invalid_client")
	}
	wantLimited(t, tokenFrom(t, tester, "/other", attackerIP, "wrong-secret-10-xxxxxxxx"))
	wantLimited(t, tokenFrom(t, tester, harness.ASPath, attackerIP, "wrong-secret-11-xxxxxxxx"))
	tokenFrom(t, tester, harness.ASPath, sinchIP, "").WantToken(t)
	tokenFrom(t, tester, "/other", sinchIP, "").WantToken(t)
}
