package fcm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/fcmupstream"
	"github.com/hmsgate/caddy-sinch-hms/fcmupstream/googletest"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

// BenchmarkFCMCacheHit measures one FCM token request served from the
// cache: form, EdDSA bearer verification with a public_key, cache, answer.
func BenchmarkFCMCacheHit(b *testing.B) {
	sa, _ := serviceAccounts(b)
	keys := harness.NewASKeys(b)
	g := googletest.NewServer()
	defer g.Close()
	g.AddAccount(sa)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h := &FCMHandler{
		Bearer:         &endpoint.BearerConfig{PublicKey: keys.PubPath, Issuer: harness.Base, Audience: harness.Base},
		Projects:       []FCMProject{{ProjectNumber: testFCMProject, KeyFile: writeKeyFile(b, sa, fcmupstream.DefaultTokenURL)}},
		GoogleTokenURL: g.URL,
	}
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	defer h.Cleanup()
	h.logger = zap.NewNop()
	as, err := oauthserver.New(oauthserver.Config{Clients: map[string]string{"c": "s"}, Key: keys.Priv})
	if err != nil {
		b.Fatal(err)
	}
	iss, oerr := as.Exchange(oauthresp.Form{"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}, "", harness.Base, harness.Base)
	if oerr != nil {
		b.Fatal(oerr)
	}
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	body := fcmForm(testFCMProject)
	serve := func() int {
		r := httptest.NewRequest(http.MethodPost, testFCMURL, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", "Bearer "+iss.AccessToken)
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, r, next)
		return w.Code
	}
	if code := serve(); code != http.StatusOK { // warm the cache
		b.Fatalf("warm-up: HTTP %d", code)
	}
	b.ReportAllocs()
	for b.Loop() {
		if code := serve(); code != http.StatusOK {
			b.Fatalf("HTTP %d", code)
		}
	}
	if g.Calls() != 1 {
		b.Errorf("Google called %d times, want 1", g.Calls())
	}
}
