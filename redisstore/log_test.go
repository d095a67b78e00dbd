package redisstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// TestOutagesAreLoggedWithoutSecrets: an operator learns from the log that
// Redis is down and what was done about it; the log holds neither the Redis
// password nor a token.
func TestOutagesAreLoggedWithoutSecrets(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	core, logs := observer.New(zapcore.DebugLevel)
	logger := zap.New(core)
	replay := &ReplayStore{Client: newClient(t, srv), Logger: logger}
	up := &upstream{now: time.Now, life: time.Hour}
	shared := sharedFetcher(t, srv, up, nil)
	shared.Logger = logger
	srv.Stop()

	if ok, err := replay.Claim(context.Background(), appKey, "n", time.Now().Add(time.Minute)); err == nil || ok {
		t.Fatalf("claim with Redis down = %v, %v", ok, err)
	}
	tok, err := shared.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	errs := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("fail closed").All()
	if len(errs) != 1 || errs[0].ContextMap()["application_key"] != appKey {
		t.Errorf("want one error line saying the replay store failed closed, got %v", logs.All())
	}
	if n := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("fetching without it").Len(); n != 1 {
		t.Errorf("want one warning that the token was fetched without Redis, got %d", n)
	}
	for _, e := range logs.All() {
		line := e.Message + " " + strings.Join(fieldStrings(e), " ")
		for _, secret := range []string{srv.Password, tok.AccessToken} {
			if strings.Contains(line, secret) {
				t.Errorf("log line holds a secret: %q", e.Message)
			}
		}
	}
}

func fieldStrings(e observer.LoggedEntry) []string {
	var out []string
	for k, v := range e.ContextMap() {
		out = append(out, fmt.Sprintf("%s=%v", k, v))
	}
	return out
}
