package hms

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// loadConfig posts a Caddyfile to the test Caddy's admin /load and returns
// the status and the answer's body. It forces the load (Cache-Control:
// must-revalidate): the same text with another value behind a placeholder
// is otherwise taken for the unchanged config.
func loadConfig(t *testing.T, caddyfileSrc string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, harness.AdminURL+"/load", strings.NewReader(caddyfileSrc))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate")
	resp, err := harness.Admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// validateConfig is `caddy validate`: the Caddyfile adapted to JSON, then
// every module provisioned, nothing started.
func validateConfig(t *testing.T, caddyfileSrc string) error {
	t.Helper()
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileSrc), nil)
	if err != nil {
		return err
	}
	var cfg caddy.Config
	if err := json.Unmarshal(adapted, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}

// TestRedisPasswordInTheURLIsNeverShown puts each awkward password into
// the URL through a placeholder, as operators do. Whether the URL then
// parses or not, no part of the password (4 bytes or more) reaches
// Provision's error, `caddy validate`, the admin /load answer, a log line
// of the store, or an answer to Sinch.
func TestRedisPasswordInTheURLIsNeverShown(t *testing.T) {
	emu := harness.NewHuawei(t)
	rds := redistest.Start(t, redistest.Options{}) // its password is none of these
	harness.StartCaddy(t, harness.Base+" {\n\trespond 204\n}\n")
	for i, pw := range redistest.Passwords {
		t.Setenv("SINCH_HMS_TEST_REDIS_PW", pw)
		url := "redis://:{env.SINCH_HMS_TEST_REDIS_PW}@" + rds.Addr + "/0"
		leaks := func(where, text string) {
			t.Helper()
			if at := redistest.Leak(text, pw); at >= 0 {
				t.Errorf("password #%d: %s shows its bytes from %d on", i, where, at)
			}
		}

		// Provision's own error, or the log lines of the client it made.
		core, logs := observer.New(zapcore.DebugLevel)
		var holds endpoint.Holds
		_, err := (&endpoint.StoreConfig{Backend: "redis", URL: url}).ReplayStore(zap.New(core), time.Now, &holds)
		parses := err == nil
		if err != nil {
			leaks("Provision's error", err.Error())
		} else {
			eventually(t, "the start-up ping's log line", func() bool { return logs.Len() > 0 })
			for _, e := range logs.All() {
				leaks("a log line", harness.EntryText(e))
			}
			holds.Release()
		}

		src := harness.GlobalOptions + harness.HMSSite(emu.URL, "replay_store redis "+url)
		if err := validateConfig(t, src); err != nil {
			leaks("caddy validate", err.Error())
			if parses {
				t.Errorf("password #%d: caddy validate failed although the URL parses: %v", i, err)
			}
		} else if !parses {
			t.Errorf("password #%d: caddy validate passed, Provision failed", i)
		}
		status, body := loadConfig(t, src)
		leaks("the admin /load answer", body)
		if (status == http.StatusOK) != parses {
			t.Errorf("password #%d: /load answered %d, Provision error %v", i, status, err)
		}
		if status == http.StatusOK {
			// A wrong password: Redis refuses, the request fails closed.
			// A new connection: the reload closes the previous one.
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			a := harness.PostForm(t, client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode())
			a.WantStoreDown(t)
			leaks("the answer", fmt.Sprint(a.Body))
		}
	}
}

// TestRedisPasswordOptionAuthenticates: each awkward password, given with
// the store block's `password` (never in a URL), gets into a real
// redis-server set up with it: as the default user, or with `username` as
// an ACL user; from {env.*} or {file.*}; in the one-line `redis <url> {`
// form and the `redis { url <url>` form.
func TestRedisPasswordOptionAuthenticates(t *testing.T) {
	emu := harness.NewHuawei(t)
	for i, pw := range redistest.Passwords {
		user := ""
		if i%2 == 1 {
			user = "sinch-edge"
		}
		rds := redistest.Start(t, redistest.Options{Password: pw, Username: user})
		secret := "{env.SINCH_HMS_TEST_REDIS_PW}"
		t.Setenv("SINCH_HMS_TEST_REDIS_PW", pw)
		if i%3 == 0 {
			path := filepath.Join(t.TempDir(), "redis-password")
			if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			secret = "{file." + path + "}"
		}
		userLine := ""
		if user != "" {
			userLine = "username " + user
		}
		prefix := fmt.Sprintf("pw%d:", i)
		stores := fmt.Sprintf(`replay_store redis {
				url redis://%[1]s/0
				password %[2]s
				%[3]s
				key_prefix %[4]s
			}
			token_store redis redis://%[1]s/0 {
				password %[2]s
				%[3]s
			}`, rds.Addr, secret, userLine, prefix)
		tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, stores))
		body := harness.AssertionForm(harness.Mint(t)).Encode()
		a := harness.PostForm(t, tester.Client, harness.TokenURL, body)
		if a.Status != http.StatusOK {
			t.Errorf("password #%d (user %q): %d %v; want a token", i, user, a.Status, a.Body)
			rds.Stop()
			continue
		}
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantReplay(t)
		keys, err := rds.Client().Keys(t.Context(), prefix+"nonce:*").Result()
		if err != nil || len(keys) != 1 {
			t.Errorf("password #%d: nonce keys in Redis = %v, %v; want 1", i, keys, err)
		}
		rds.Stop()
	}
}

// TestRedisPasswordErrorsNameNoPassword: the errors of the password option
// name the placeholder, never a value.
func TestRedisPasswordErrorsNameNoPassword(t *testing.T) {
	os.Unsetenv("SINCH_HMS_TEST_REDIS_PW_MISSING")
	for name, tc := range map[string]struct {
		sc   endpoint.StoreConfig
		want string
	}{
		"missing env": {endpoint.StoreConfig{Backend: "redis", URL: "redis://127.0.0.1:1/0", Password: "{env.SINCH_HMS_TEST_REDIS_PW_MISSING}"},
			"password: placeholder {env.SINCH_HMS_TEST_REDIS_PW_MISSING} could not be resolved"},
		"braces in a literal": {endpoint.StoreConfig{Backend: "redis", URL: "redis://127.0.0.1:1/0", Password: "Wq3{Np7}Lx"},
			"password: a placeholder in it could not be resolved"},
		"braces in a URL": {endpoint.StoreConfig{Backend: "redis", URL: "redis://:Wq3{Np7}Lx@127.0.0.1:1/0"},
			"url: a placeholder in it could not be resolved"},
		"twice": {endpoint.StoreConfig{Backend: "redis", URL: "redis://:Qz8xKp2wLm@127.0.0.1:1/0", Password: "Tq8zWv3kRj"},
			"give it once"},
	} {
		t.Run(name, func(t *testing.T) {
			var holds endpoint.Holds
			_, err := tc.sc.ReplayStore(zap.NewNop(), time.Now, &holds)
			if err == nil {
				holds.Release()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			for _, secret := range []string{"Np7", "Wq3", "Qz8x", "Tq8z"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a part of a password", err)
				}
			}
		})
	}
}

// The store's log lines describe Redis by address from the parsed
// options, never by the URL's text.
func TestRedisLogDescribesNoCredentials(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	var holds endpoint.Holds
	_, err := (&endpoint.StoreConfig{Backend: "redis", URL: "redis://someone:Hw2@Xk8pGs@127.0.0.1:1/3?dial_timeout=100ms"}).
		ReplayStore(zap.New(core), time.Now, &holds)
	if err != nil {
		t.Fatal(err)
	}
	defer holds.Release()
	eventually(t, "the start-up ping's log line", func() bool { return logs.Len() > 0 })
	e := logs.All()[0]
	if got := e.ContextMap()["redis"]; got != "redis://127.0.0.1:1/3" {
		t.Errorf("the log names Redis as %q, want redis://127.0.0.1:1/3", got)
	}
	if text := harness.EntryText(e); strings.Contains(text, "Xk8p") || strings.Contains(text, "someone") {
		t.Errorf("log line %q shows the URL's userinfo", text)
	}
}
