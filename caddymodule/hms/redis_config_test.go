package hms

import (
	"strings"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/fcm"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestCaddyfileRedisStores(t *testing.T) {
	d := caddyfile.NewTestDispenser(`sinch_hms {
		sinch_application key1 {env.SECRET_A}
		hms_application 111 {env.HMS_SECRET}
		replay_store redis redis://:{env.REDIS_PASSWORD}@redis.internal:6379/0 {
			key_prefix edge:
		}
		token_store redis rediss://redis.internal:6380/1
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if r := h.ReplayStore; r == nil || r.Backend != "redis" || r.URL != "redis://:{env.REDIS_PASSWORD}@redis.internal:6379/0" || r.KeyPrefix != "edge:" {
		t.Errorf("replay_store = %+v (the placeholder must stay unexpanded)", r)
	}
	if s := h.TokenStore; s == nil || s.Backend != "redis" || s.URL != "rediss://redis.internal:6380/1" || s.KeyPrefix != "" {
		t.Errorf("token_store = %+v", s)
	}
	if err := h.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestCaddyfileRedisStoreBlock: the one-line `redis <url> { ... }` form
// and the `redis { url <url> ... }` form, with the password and username
// beside the URL; placeholders stay unexpanded.
func TestCaddyfileRedisStoreBlock(t *testing.T) {
	d := caddyfile.NewTestDispenser(`sinch_hms {
		sinch_application key1 {env.SECRET_A}
		hms_application 111 {env.HMS_SECRET}
		replay_store redis redis://redis.internal:6379/0 {
			password {env.REDIS_PASSWORD}
			username edge
			key_prefix edge:
		}
		token_store redis {
			url rediss://redis.internal:6380/1
			password "pw with spaces/?#%@"
		}
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := endpoint.StoreConfig{Backend: "redis", URL: "redis://redis.internal:6379/0", Username: "edge", Password: "{env.REDIS_PASSWORD}", KeyPrefix: "edge:"}
	if r := h.ReplayStore; r == nil || *r != want {
		t.Errorf("replay_store = %+v, want %+v", r, want)
	}
	want = endpoint.StoreConfig{Backend: "redis", URL: "rediss://redis.internal:6380/1", Password: "pw with spaces/?#%@"}
	if s := h.TokenStore; s == nil || *s != want {
		t.Errorf("token_store = %+v, want %+v", s, want)
	}
	if err := h.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	var f fcm.FCMHandler
	d = caddyfile.NewTestDispenser(`sinch_fcm {
		token_store redis {
			url redis://redis.internal:6379/0
			password {file./run/secrets/redis}
		}
	}`)
	if err := f.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want = endpoint.StoreConfig{Backend: "redis", URL: "redis://redis.internal:6379/0", Password: "{file./run/secrets/redis}"}
	if s := f.TokenStore; s == nil || *s != want {
		t.Errorf("sinch_fcm token_store = %+v, want %+v", s, want)
	}
}

func TestCaddyfileRedisStoreErrors(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"no url":              {"sinch_hms {\n replay_store redis\n}", "needs a URL"},
		"bad scheme":          {"sinch_hms {\n replay_store redis http://localhost:6379\n}", "invalid URL scheme"},
		"bad db":              {"sinch_hms {\n token_store redis redis://:pw-in-url@localhost/x\n}", "invalid database"},
		"extra argument":      {"sinch_hms {\n token_store redis redis://localhost x\n}", "wrong argument count"},
		"unknown option":      {"sinch_hms {\n token_store redis redis://localhost {\n  pool_size 3\n }\n}", `unrecognized option "pool_size"`},
		"repeated store":      {"sinch_hms {\n replay_store redis redis://a\n replay_store memory\n}", "more than once"},
		"url twice":           {"sinch_hms {\n replay_store redis redis://a {\n  url redis://b\n }\n}", "the URL is given twice"},
		"url line twice":      {"sinch_hms {\n replay_store redis {\n  url redis://a\n  url redis://b\n }\n}", "url given more than once"},
		"block, no url":       {"sinch_hms {\n replay_store redis {\n  password pw-in-url\n }\n}", "needs a URL"},
		"password twice":      {"sinch_hms {\n token_store redis redis://a {\n  password pw-in-url\n  password pw-in-url\n }\n}", "password given more than once"},
		"password split":      {"sinch_hms {\n token_store redis redis://a {\n  password pw-in url-too\n }\n}", "password takes exactly one argument"},
		"no password":         {"sinch_hms {\n token_store redis redis://a {\n  password\n }\n}", "password takes exactly one argument"},
		"empty password":      {"sinch_hms {\n token_store redis redis://a {\n  password \"\"\n }\n}", "password is empty"},
		"password twice, url": {"sinch_hms {\n token_store redis redis://:pw-in-url@host {\n  password pw-in-block\n }\n}", "give it once"},
		"url as an option":    {"sinch_hms {\n token_store redis {\n  redis://:pw-in-url@host\n }\n}", "unrecognized option (not shown"},
		"url, no backend":     {"sinch_hms {\n replay_store redis://:pw-in-url@host\n}", "unknown backend (not shown"},
		"url with a #":        {"sinch_hms {\n token_store redis redis://:pw-in#url@host\n}", "cannot parse"},
		"extra after url":     {"sinch_hms {\n token_store redis redis://:pw-in url@host\n}", "wrong argument count"},
	} {
		t.Run(name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q does not name the line", err)
			}
			if strings.Contains(err.Error(), "pw-in") || strings.Contains(err.Error(), "url-too") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestValidateRedisStores(t *testing.T) {
	base := func() Handler {
		return Handler{
			SinchApplications: []SinchApplication{{ApplicationKey: "k", Secrets: []string{harness.SinchSecret}}},
			HMSApplications:   []HMSApplication{{AppID: "1", AppSecret: "s"}},
		}
	}
	for name, tc := range map[string]struct {
		store *endpoint.StoreConfig
		want  string
	}{
		"redis without url":  {&endpoint.StoreConfig{Backend: "redis"}, "needs a url"},
		"memory with url":    {&endpoint.StoreConfig{Backend: "memory", URL: "redis://x"}, "belong to the redis backend"},
		"unknown backend":    {&endpoint.StoreConfig{Backend: "etcd"}, `unknown backend "etcd"`},
		"prefix, no backend": {&endpoint.StoreConfig{KeyPrefix: "x:"}, "belong to the redis backend"},
		"memory, password":   {&endpoint.StoreConfig{Backend: "memory", Password: "{env.P}"}, "belong to the redis backend"},
		"memory, username":   {&endpoint.StoreConfig{Backend: "memory", Username: "u"}, "belong to the redis backend"},
	} {
		t.Run(name, func(t *testing.T) {
			h := base()
			h.TokenStore = tc.store
			err := h.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "token_store") {
				t.Errorf("Validate = %v, want token_store and %q", err, tc.want)
			}
		})
	}
}
