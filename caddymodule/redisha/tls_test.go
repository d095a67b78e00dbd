package redisha

import (
	"strings"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// TestTLSCA: a Redis that speaks TLS only, with a certificate of a CA the
// test makes. Instance 1 trusts that CA (tls { ca_file }) and checks the
// certificate's DNS name (server_name): 200. Instance 2 trusts another CA:
// it fails closed (503 + Retry-After), its log names the cause (x509:
// unknown authority) and neither log holds any part of the password.
func TestTLSCA(t *testing.T) {
	ca := redistest.NewCA(t, "sinch-hms test CA")
	wrong := redistest.NewCA(t, "another CA")
	files := ca.ServerTLS(t, "redis.test")
	pw := redistest.Passwords[2] // Kp7#Lz4qWd: breaks a URL unless encoded
	rds := redistest.Start(t, redistest.Options{TLS: files, Password: pw})
	emu := harness.NewHuawei(t)
	store := func(caFile string) string {
		return `replay_store redis {
				url rediss://` + rds.Addr + `/0
				password {env.REDIS_PASSWORD}
				tls {
					ca_file ` + caFile + `
					server_name redis.test
				}
			}`
	}
	good := startInstances(t, 1, emu.URL, store(ca.CertFile), "REDIS_PASSWORD="+pw)[0]
	if a := post(good.URL, mint(false)); a.Status != 200 {
		t.Fatalf("instance trusting the CA: %v\n%s", a, good.Log())
	}
	keys, err := rds.Client().Keys(t.Context(), "sinch_hms:nonce:*").Result()
	if err != nil || len(keys) != 1 {
		t.Errorf("nonce keys in the TLS Redis = %v, %v; want 1", keys, err)
	}
	good.Kill()

	bad := startInstances(t, 1, emu.URL, store(wrong.CertFile), "REDIS_PASSWORD="+pw)[0]
	a := post(bad.URL, mint(false))
	if !a.unavailable() || !strings.Contains(a.Error, "temporarily_unavailable") {
		t.Errorf("instance trusting another CA: %v (Retry-After %q); want 503 temporarily_unavailable + Retry-After", a, a.RetryAfter)
	}
	log := bad.Log()
	if i := strings.Index(log, "x509: certificate signed by unknown authority"); i < 0 {
		t.Errorf("the log of the instance trusting another CA does not name the cause:\n%s", log)
	} else {
		line := log[strings.LastIndexByte(log[:i], '\n')+1:]
		t.Logf("tls: wrong CA: answer %v, Retry-After %s; log: %s", a, a.RetryAfter, line[:strings.IndexByte(line+"\n", '\n')])
	}
	for name, text := range map[string]string{"good": good.Log(), "wrong CA": log, "answer": a.Error} {
		if at := redistest.Leak(text, pw); at >= 0 {
			i := strings.Index(text, pw[at:at+4])
			t.Errorf("%s: shows the password's bytes from %d on: ...%s...", name, at, text[max(0, i-80):min(len(text), i+20)])
		}
	}
}
