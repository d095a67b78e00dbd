package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestOAuthServerShortSecretRefused: a client secret under 16 characters
// is a load error naming the client (never the secret), whether it is
// written literally or comes from a placeholder; 16 characters load.
func TestOAuthServerShortSecretRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real Caddy")
	}
	keys := harness.NewASKeys(t)
	harness.StartCaddy(t, harness.Base+" {\n\trespond 204\n}\n")
	site := func(id, secret string) string {
		return harness.GlobalOptions + fmt.Sprintf("%s {\n\troute /t {\n\t\tsinch_oauth_server {\n\t\t\tclient %s %s\n\t\t\tsigning_key %s\n\t\t}\n\t}\n}\n",
			harness.Base, id, secret, keys.PrivPath)
	}
	const short = "fifteen-chars-x" // 15
	if len(short) != 15 {
		t.Fatal("fixture length")
	}
	t.Setenv("SINCH_HMS_TEST_SHORT_SECRET", short)
	for name, secret := range map[string]string{
		"literal":     short,
		"placeholder": "{env.SINCH_HMS_TEST_SHORT_SECRET}",
		"three chars": "abc",
	} {
		t.Run(name, func(t *testing.T) {
			var answer struct{ Error string }
			raw := harness.LoadError(t, site("short-client", secret))
			if err := json.Unmarshal([]byte(raw), &answer); err != nil {
				t.Fatalf("load answer %q: %v", raw, err)
			}
			// Caddy names the module; the error itself adds no prefix.
			msg := answer.Error
			if !strings.Contains(msg, `provision http.handlers.sinch_oauth_server: client "short-client": `) ||
				!strings.Contains(msg, "shorter than 16 characters") {
				t.Errorf("load error %q does not name the client and the minimum, or has a prefix", msg)
			}
			if strings.Contains(msg, short) || strings.Contains(msg, "abc") {
				t.Errorf("load error %q holds the secret", msg)
			}
		})
	}
	t.Run("16 characters load", func(t *testing.T) {
		harness.StartCaddy(t, harness.Base+" {"+strings.Replace(harness.ASRoute(keys.PrivPath, ""), harness.ClientSecret, "sixteen-chars-xx", 1)+"}\n")
	})
}

// observedAS provisions an Authorization Server with the test client,
// serves it over real HTTP and records its log lines.
func observedAS(t *testing.T) (*observer.ObservedLogs, string) {
	t.Helper()
	keys := harness.NewASKeys(t)
	s := &OAuthServer{Clients: []OAuthClient{{ClientID: harness.ClientID, ClientSecret: harness.ClientSecret}}, SigningKey: keys.PrivPath,
		Issuer: "https://observed.test"}
	core, logs := observer.New(zapcore.DebugLevel)
	s.logger = zap.New(core)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := s.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Cleanup() })
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = s.ServeHTTP(w, r, next)
	}))
	t.Cleanup(srv.Close)
	return logs, srv.URL + harness.ASPath
}

// TestOAuthServerLogsUnknownClientIDHashed: a client_id that is no
// configured client (a secret pasted into the id field, say) is logged
// only as a short hash and its length; a configured one by name.
func TestOAuthServerLogsUnknownClientIDHashed(t *testing.T) {
	logs, target := observedAS(t)
	const pasted = "Zq8vN3xR7tLm2pW9kY4sB6dF1hJ0cA5e" // looks like a secret
	sum := sha256.Sum256([]byte(pasted))
	wantHash := hex.EncodeToString(sum[:])[:8]
	client := &http.Client{}

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {pasted}, "client_secret": {"wrong-secret"}}
	harness.PostForm(t, client, target, form.Encode()).WantError(t, http.StatusUnauthorized, "invalid_client")
	// The same through HTTP Basic.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(pasted)+":wrong-secret"))
	harness.PostForm(t, client, target, "grant_type=client_credentials", "Authorization", basic).
		WantError(t, http.StatusUnauthorized, "invalid_client")

	lines := logs.FilterMessage("token request rejected").All()
	if len(lines) != 2 {
		t.Fatalf("%d rejection lines, want 2:\n%s", len(lines), harness.DumpLogs(logs))
	}
	for _, e := range lines {
		f := e.ContextMap()
		if f["client_id_sha256"] != wantHash || f["client_id_length"] != int64(len(pasted)) {
			t.Errorf("rejection line lacks client_id_sha256=%s client_id_length=%d: %s", wantHash, len(pasted), harness.EntryText(e))
		}
		if _, ok := f["client_id"]; ok {
			t.Errorf("an unknown client_id is logged as client_id: %s", harness.EntryText(e))
		}
	}
	for _, e := range logs.All() {
		if strings.Contains(harness.EntryText(e), pasted) || strings.Contains(harness.EntryText(e), pasted[:16]) {
			t.Errorf("the unknown client_id is in the log: %s", harness.EntryText(e))
		}
	}

	// A configured client with a wrong secret: named, both ways.
	logs.TakeAll()
	form.Set("client_id", harness.ClientID)
	harness.PostForm(t, client, target, form.Encode()).WantError(t, http.StatusUnauthorized, "invalid_client")
	basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(harness.ClientID)+":wrong-secret"))
	harness.PostForm(t, client, target, "grant_type=client_credentials", "Authorization", basic).
		WantError(t, http.StatusUnauthorized, "invalid_client")
	lines = logs.FilterMessage("token request rejected").All()
	if len(lines) != 2 {
		t.Fatalf("%d rejection lines, want 2:\n%s", len(lines), harness.DumpLogs(logs))
	}
	for _, e := range lines {
		f := e.ContextMap()
		if f["client_id"] != harness.ClientID || f["reason"] != "bad_client_credentials" {
			t.Errorf("a known client is not logged by name: %s", harness.EntryText(e))
		}
		if _, ok := f["client_id_sha256"]; ok {
			t.Errorf("a known client_id is hashed: %s", harness.EntryText(e))
		}
		if strings.Contains(harness.EntryText(e), "wrong-secret") || strings.Contains(harness.EntryText(e), harness.ClientSecret) {
			t.Errorf("a secret is in the log: %s", harness.EntryText(e))
		}
	}
}
