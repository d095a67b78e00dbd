package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// TestURLErrorsNeverShowThePassword: a password written into the URL as it
// is breaks the URL when it holds / ? # % and the like, and the URL's
// parts then land anywhere (port, path, query option, fragment). Neither
// the error nor Redact may show any 4 bytes of it.
func TestURLErrorsNeverShowThePassword(t *testing.T) {
	for i, pw := range redistest.Passwords {
		for _, raw := range []string{
			"redis://:" + pw + "@redis.internal:6379/0",
			"rediss://user:" + pw + "@redis.internal:6380/1?dial_timeout=3s",
			"redis://:" + pw + "@redis.internal",
			"unix://:" + pw + "@/run/redis.sock",
		} {
			_, err := ParseURL(raw)
			if err != nil {
				if at := redistest.Leak(err.Error(), pw); at >= 0 {
					t.Errorf("password #%d: the error shows its bytes from %d on", i, at)
				}
				if !strings.Contains(err.Error(), "cannot parse") {
					t.Errorf("password #%d: error %q does not say the URL cannot be parsed", i, err)
				}
			}
			if at := redistest.Leak(Redact(raw), pw); at >= 0 {
				t.Errorf("password #%d: Redact shows its bytes from %d on", i, at)
			}
		}
	}
}

func TestURLErrorsSayWhatIsWrong(t *testing.T) {
	for raw, want := range map[string]string{
		"http://:pw-in-url@host":                     `scheme "http": invalid URL scheme`,
		"redis://:pw-in-url@host/notadb":             "invalid database number",
		"redis://:pw-in-url@host/1/2":                "invalid URL path",
		"redis://:pw-in-url@host/0?dial_timeout=xyz": "query option dial_timeout: invalid duration",
		"redis://:pw-in-url@host/0?pw-in-url=1":      "unknown query option",
		"redis://:pw-in-url@ho st:%zz":               "not a valid URL",
		"redis://:pw#in-url@host":                    "it holds '#'",
		"pw-in-url":                                  "invalid URL scheme",
	} {
		_, err := ParseURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v, want %q", raw, err, want)
			continue
		}
		for _, part := range []string{"pw-in", "in-url", "xyz", "host"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("ParseURL(%q): error %q shows %q of the URL", raw, err, part)
			}
		}
	}
	if got := Redact("rediss://user:pw-in-url@redis.example:6380/2?dial_timeout=3s"); got != "rediss://redis.example:6380/2" {
		t.Errorf("Redact = %q", got)
	}
}

func TestCredentialsBesideTheURL(t *testing.T) {
	o, err := ParseURL("redis://redis.example/3", Credentials{Username: "edge", Password: "a/b?c#d%e@f"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Username != "edge" || o.Password != "a/b?c#d%e@f" || o.DB != 3 {
		t.Errorf("options: user %q db %d, password given = %v", o.Username, o.DB, o.Password == "a/b?c#d%e@f")
	}
	for raw, cred := range map[string]Credentials{
		"redis://:pw-in-url@redis.example/0":      {Password: "other"},
		"redis://someone@redis.example/0":         {Username: "edge"},
		"redis://someone:pw-in-url@redis.example": {Username: "edge", Password: "other"},
	} {
		_, err := ParseURL(raw, cred)
		if err == nil || !strings.Contains(err.Error(), "give it once") {
			t.Errorf("ParseURL(%q) with credentials beside = %v; want a refusal", raw, err)
		} else if strings.Contains(err.Error(), "pw-in-url") || strings.Contains(err.Error(), "other") {
			t.Errorf("error %q shows a password", err)
		}
	}
}

// TestCredentialsAuthenticate: any password, given beside the URL, gets
// into a real redis-server set up with it, as the default user and as an
// ACL user.
func TestCredentialsAuthenticate(t *testing.T) {
	for i, pw := range redistest.Passwords {
		for _, user := range []string{"", "edge-user"} {
			srv := redistest.Start(t, redistest.Options{Password: pw, Username: user})
			c, err := NewClient("redis://"+srv.Addr+"/0", Credentials{Username: user, Password: pw})
			if err != nil {
				t.Fatalf("password #%d: %v", i, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = c.Ping(ctx).Err()
			cancel()
			_ = c.Close()
			if err != nil {
				t.Errorf("password #%d, user %q: ping: %v", i, user, err)
			}
			// And the wrong one does not (the server really checks).
			c, _ = NewClient("redis://"+srv.Addr+"/0", Credentials{Username: user, Password: pw + "x"})
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			err = c.Ping(ctx).Err()
			cancel()
			_ = c.Close()
			if err == nil {
				t.Errorf("password #%d, user %q: a wrong password got in", i, user)
			}
			srv.Stop()
		}
	}
}
