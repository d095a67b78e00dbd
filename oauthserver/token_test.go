package oauthserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// newTokenServer is a Server for Token: fixed issuer, the given limiter
// (nil: the default memory limiter on the test clock).
func newTokenServer(t testing.TB, limiter authlimit.Limiter, mod func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Clients: map[string]string{testClientID: testSecret, "other": "other-secret"},
		Keys:    []ed25519.PrivateKey{newKey(t)},
		Issuer:  testIssuer,
		Limiter: limiter,
		Now:     func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func post(id, secret string, kv ...string) oauthresp.Form {
	return form(append([]string{"grant_type", "client_credentials", "client_id", id, "client_secret", secret}, kv...)...)
}

// TestTokenIssuerIgnoresHost serves Token over HTTP and asks with several
// Host headers: the iss and aud are the configured ones every time.
func TestTokenIssuerIgnoresHost(t *testing.T) {
	s := newTokenServer(t, authlimit.Unlimited{}, func(c *Config) { c.Audience = "https://api.example.com" })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, oerr := oauthresp.ParseForm(r, oauthresp.DefaultMaxBodyBytes)
		if oerr == nil {
			var iss *Issued
			if iss, oerr = s.Token(r.Context(), TokenRequest{Form: f, Authorization: r.Header.Get("Authorization"), Addr: r.RemoteAddr}); oerr == nil {
				_ = oauthresp.WriteTokenBody(w, iss.Body())
				return
			}
		}
		_ = oauthresp.WriteError(w, oerr)
	}))
	defer srv.Close()
	for _, host := range []string{"auth.example.com", "evil.example", "127.0.0.1"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(post(testClientID, testSecret).Encode()))
		req.Host = host
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ans struct {
			AccessToken string `json:"access_token"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ans) != nil {
			t.Fatalf("Host %s: %d %s", host, resp.StatusCode, body)
		}
		var c claims
		if _, _, err := jwt.NewParser().ParseUnverified(ans.AccessToken, &c); err != nil {
			t.Fatal(err)
		}
		if c.Issuer != testIssuer || len(c.Audience) != 1 || c.Audience[0] != "https://api.example.com" {
			t.Errorf("Host %s: iss %q aud %v, want the configured ones", host, c.Issuer, c.Audience)
		}
	}
}

func TestTokenNeedsIssuer(t *testing.T) {
	s := newTokenServer(t, nil, func(c *Config) { c.Issuer = "" })
	if _, oerr := s.Token(t.Context(), TokenRequest{Form: post(testClientID, testSecret)}); oerr == nil || oerr.Status != http.StatusInternalServerError {
		t.Fatalf("Token without an issuer: %v, want a server error", oerr)
	}
	if _, err := New(Config{Clients: map[string]string{"a": "b"}, Key: newKey(t), Audience: "x"}); err == nil {
		t.Error("an audience without an issuer accepted")
	}
	if _, err := New(Config{Clients: map[string]string{"a": "b"}, Key: newKey(t), Issuer: "https://a b"}); err == nil {
		t.Error("an issuer with a space accepted")
	}
}

// TestSigningKeys: the first key signs, all are published.
func TestSigningKeys(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	s := newTokenServer(t, nil, func(c *Config) { c.Keys = []ed25519.PrivateKey{oldKey, newK} })
	oldPub, newPub := oldKey.Public().(ed25519.PublicKey), newK.Public().(ed25519.PublicKey)
	var set JWKS
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].Kid != Thumbprint(oldPub) || set.Keys[1].Kid != Thumbprint(newPub) {
		t.Fatalf("JWKS %s: want the old key then the new", s.JWKS())
	}
	if s.KeyID() != Thumbprint(oldPub) || len(s.KeyIDs()) != 2 || !s.PublicKeys()[1].Equal(newPub) {
		t.Errorf("kid %s, kids %v", s.KeyID(), s.KeyIDs())
	}
	iss, oerr := s.Token(t.Context(), TokenRequest{Form: post(testClientID, testSecret)})
	if oerr != nil {
		t.Fatal(oerr)
	}
	_, parsed := verify(t, iss.AccessToken, oldPub)
	if parsed.Header["kid"] != Thumbprint(oldPub) {
		t.Errorf("kid %v, want the first key's", parsed.Header["kid"])
	}
	for name, cfg := range map[string]Config{
		"both Key and Keys": {Key: oldKey, Keys: []ed25519.PrivateKey{newK}},
		"a key twice":       {Keys: []ed25519.PrivateKey{oldKey, newK, oldKey}},
		"a short key":       {Keys: []ed25519.PrivateKey{oldKey, oldKey[:10]}},
	} {
		cfg.Clients = map[string]string{"a": "b"}
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestClientScopes(t *testing.T) {
	s := newTokenServer(t, authlimit.Unlimited{}, func(c *Config) {
		c.Scopes = []string{"a", "b", "c"}
		c.ClientScopes = map[string][]string{testClientID: {"b", "c"}}
	})
	ctx := t.Context()
	iss, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, testSecret)})
	if oerr != nil {
		t.Fatal(oerr)
	}
	if strings.Join(iss.Scopes, " ") != "b c" || !iss.ScopeChanged {
		t.Errorf("no scope asked: granted %v, want the client's own b c", iss.Scopes)
	}
	if _, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, testSecret, "scope", "a")}); oerr == nil || oerr.Code != oauthresp.ErrInvalidScope {
		t.Errorf("a scope outside the client's list: %v, want invalid_scope", oerr)
	}
	if iss, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, testSecret, "scope", "c")}); oerr != nil || strings.Join(iss.Scopes, " ") != "c" {
		t.Errorf("a scope of the client's list: %v %v", iss, oerr)
	}
	// A client without a list keeps the server's scopes.
	if iss, oerr := s.Token(ctx, TokenRequest{Form: post("other", "other-secret")}); oerr != nil || strings.Join(iss.Scopes, " ") != "a b c" {
		t.Errorf("client without a list: %v %v, want a b c", iss, oerr)
	}
	for name, cs := range map[string]map[string][]string{
		"unknown client":      {"nobody": {"a"}},
		"scope not allowed":   {testClientID: {"a", "z"}},
		"empty list":          {testClientID: {}},
		"default scopes only": {testClientID: {"openid"}},
	} {
		scopes := []string{"a", "b", "c"}
		if name == "default scopes only" {
			scopes = nil
		}
		cfg := Config{Clients: map[string]string{testClientID: testSecret}, Key: newKey(t), Scopes: scopes, ClientScopes: cs}
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// limited is a server whose default-policy memory limiter runs on clock.
func limited(t testing.TB, clock *testclock.Clock) *Server {
	t.Helper()
	m, err := authlimit.NewMemory(authlimit.MemoryConfig{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return newTokenServer(t, m, nil)
}

func TestTokenRateLimited(t *testing.T) {
	clock := testclock.New(time.Unix(1_800_000_000, 0))
	s := limited(t, clock)
	ctx := t.Context()
	const attacker = "198.51.100.1:40000"
	for i := range authlimit.DefaultBurst {
		if _, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, fmt.Sprint("guess", i)), Addr: attacker}); oerr == nil || oerr.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %v, want 401", i, oerr)
		}
	}
	// Over the limit the right secret is refused too: no secret is
	// compared, so the answer says nothing about it.
	_, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, testSecret), Addr: "198.51.100.1:40001"})
	if oerr == nil || oerr.Status != http.StatusTooManyRequests || oerr.Code != oauthresp.ErrInvalidClient ||
		oerr.Reason != "rate_limited" || oerr.RetryAfter != time.Second {
		t.Fatalf("over the limit: %+v, want 429 invalid_client rate_limited, Retry-After 1s", oerr)
	}
	// Sinch, from an address that has not been failing, is not refused.
	if _, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, testSecret), Addr: "203.0.113.5:443"}); oerr != nil {
		t.Fatalf("Sinch refused because of another address's guesses: %v", oerr)
	}
	clock.Advance(time.Second)
	if _, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, testSecret), Addr: attacker}); oerr != nil {
		t.Fatalf("one interval later the right secret: %v", oerr)
	}
}

// TestTokenDistributedGuessing: guesses spread over many addresses cannot
// lock Sinch out.
func TestTokenDistributedGuessing(t *testing.T) {
	clock := testclock.New(time.Unix(1_800_000_000, 0))
	s := limited(t, clock)
	ctx := t.Context()
	compared := 0
	for round := range 60 {
		for i := range 200 {
			_, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, "guess"), Addr: fmt.Sprintf("10.0.%d.%d:1", i/250, i%250)})
			if oerr.Status == http.StatusUnauthorized {
				compared++
			}
		}
		clock.Advance(time.Second)
		if _, oerr := s.Token(ctx, TokenRequest{Form: post(testClientID, testSecret), Addr: "203.0.113.5:443"}); oerr != nil {
			t.Fatalf("round %d: Sinch refused: %v", round, oerr)
		}
	}
	t.Logf("200 addresses guessing for 60s: %d guesses compared (unlimited: %d)", compared, 60*200)
	if compared > 200*2 {
		t.Errorf("%d guesses compared: the client_id limit does not hold once addresses are failing", compared)
	}
}

func TestTokenUnknownClientIDsCounted(t *testing.T) {
	clock := testclock.New(time.Unix(1_800_000_000, 0))
	s := limited(t, clock)
	refused := 0
	for i := range 100 {
		_, oerr := s.Token(t.Context(), TokenRequest{Form: post(fmt.Sprint("random-", i), "x"), Addr: "198.51.100.9:1"})
		if oerr.Status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused != 100-authlimit.DefaultBurst {
		t.Errorf("%d of 100 random client ids refused, want all past the burst", refused)
	}
}

// TestTokenGuessRate measures the wrong guesses one address gets compared
// when it asks 20 times a second for an hour (test clock), without and
// with the limiter.
func TestTokenGuessRate(t *testing.T) {
	const perSecond, seconds = 20, 3600
	for _, mode := range []string{"unlimited", "limited"} {
		clock := testclock.New(time.Unix(1_800_000_000, 0))
		s := limited(t, clock)
		if mode == "unlimited" {
			s.limiter = authlimit.Unlimited{}
		}
		compared := 0
		for range perSecond * seconds {
			if _, oerr := s.Token(t.Context(), TokenRequest{Form: post(testClientID, "guess"), Addr: "198.51.100.66:1"}); oerr.Status == http.StatusUnauthorized {
				compared++
			}
			clock.Advance(time.Second / perSecond)
		}
		t.Logf("%s: one address asking %d/s for %ds: %d guesses compared, %.3f/s", mode, perSecond, seconds, compared, float64(compared)/seconds)
		if mode == "limited" && compared > authlimit.DefaultLockoutAfter+seconds/300+1 {
			t.Errorf("limited: %d guesses compared", compared)
		}
		if mode == "unlimited" && compared != perSecond*seconds {
			t.Errorf("unlimited: %d guesses compared", compared)
		}
	}
}

// BenchmarkWrongGuess: wrong guesses from one address on the real clock;
// compared/s is the rate a single attacker address gets through.
func BenchmarkWrongGuess(b *testing.B) {
	for _, mode := range []string{"unlimited", "limited"} {
		b.Run(mode, func(b *testing.B) {
			var limiter authlimit.Limiter = authlimit.Unlimited{}
			if mode == "limited" {
				limiter, _ = authlimit.NewMemory(authlimit.MemoryConfig{})
			}
			s := newTokenServer(b, limiter, func(c *Config) { c.Now = nil })
			f := post(testClientID, "guess")
			compared := 0
			start := time.Now()
			for b.Loop() {
				if _, oerr := s.Token(context.Background(), TokenRequest{Form: f, Addr: "198.51.100.66:1"}); oerr.Status == http.StatusUnauthorized {
					compared++
				}
			}
			b.ReportMetric(float64(compared)/time.Since(start).Seconds(), "compared/s")
		})
	}
}
