package fcmupstream

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/fcmupstream/googletest"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

var (
	accountOnce sync.Once
	testAccount *googletest.ServiceAccount
)

// account returns a service account shared by the tests (RSA key
// generation is slow under -race).
func account(t testing.TB) *googletest.ServiceAccount {
	t.Helper()
	accountOnce.Do(func() {
		sa, err := googletest.NewServiceAccount("sinch-fcm-test")
		if err != nil {
			t.Fatal(err)
		}
		testAccount = sa
	})
	return testAccount
}

func newGoogle(t testing.TB) *googletest.Server {
	t.Helper()
	g := googletest.NewServer()
	t.Cleanup(g.Close)
	return g
}

func TestFetchFromGoogleEmulator(t *testing.T) {
	sa := account(t)
	g := newGoogle(t)
	g.AddAccount(sa)
	p, err := NewProject(sa.KeyJSON(DefaultTokenURL), Options{TokenURL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	tok, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	issued := g.IssuedTokens(sa.Email)
	if len(issued) != 1 || issued[0] != tok.AccessToken || !strings.HasPrefix(tok.AccessToken, "ya29.") {
		t.Fatalf("fetched token is not the one Google issued")
	}
	if left := tok.ExpiresAt.Sub(before); left < 3590*time.Second || left > 3600*time.Second {
		t.Errorf("expires in %v, want about 3599s", left)
	}
	if p.ClientEmail() != sa.Email || p.TokenURL() != g.URL {
		t.Errorf("project %s %s", p.ClientEmail(), p.TokenURL())
	}
}

// TestTokenURILocked: without an override, only Google's token URL may be
// in the key file, so a tampered file cannot have the grant signed for and
// sent to another host.
func TestTokenURILocked(t *testing.T) {
	sa := account(t)
	g := newGoogle(t)
	g.AddAccount(sa)
	if _, err := NewProject(sa.KeyJSON(g.URL), Options{}); err == nil || !strings.Contains(err.Error(), "token_uri") {
		t.Fatalf("key with a foreign token_uri accepted: %v", err)
	}
	p, err := NewProject(sa.KeyJSON(""), Options{})
	if err != nil || p.TokenURL() != DefaultTokenURL {
		t.Fatalf("key without token_uri: %v %v", p, err)
	}
	p, err = NewProject(sa.KeyJSON(DefaultTokenURL), Options{})
	if err != nil || p.TokenURL() != DefaultTokenURL {
		t.Fatalf("Google's own key file: %v", err)
	}
	// With an override, the configured URL wins whatever the file says.
	p, err = NewProject(sa.KeyJSON("https://evil.example/token"), Options{TokenURL: g.URL})
	if err != nil || p.TokenURL() != g.URL {
		t.Fatalf("override: %v", err)
	}
	if _, err := p.Fetch(context.Background()); err != nil {
		t.Fatalf("fetch through the override: %v", err)
	}
}

func TestKeyFileAudienceIgnored(t *testing.T) {
	sa := account(t)
	g := newGoogle(t)
	g.AddAccount(sa)
	key := strings.Replace(string(sa.KeyJSON(DefaultTokenURL)), `"type"`, `"audience": "https://evil.example/", "type"`, 1)
	p, err := NewProject([]byte(key), Options{TokenURL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fetch(context.Background()); err != nil {
		t.Fatalf("a key file's audience changed the grant's aud: %v", err)
	}
}

func TestBadKeyFiles(t *testing.T) {
	sa := account(t)
	good := string(sa.KeyJSON(DefaultTokenURL))
	for name, key := range map[string]string{
		"not json":        "{",
		"user creds":      strings.Replace(good, `"service_account"`, `"authorized_user"`, 1),
		"no email":        strings.Replace(good, sa.Email, "", 1),
		"broken key":      strings.Replace(good, "MII", "XXX", 1),
		"no private key":  `{"type":"service_account","client_email":"a@b"}`,
		"token_uri other": strings.Replace(good, DefaultTokenURL, "https://oauth2.googleapis.com.evil.example/token", 1),
	} {
		if _, err := NewProject([]byte(key), Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "MII") {
			t.Errorf("%s: error shows the key: %v", name, err)
		}
	}
}

func TestGoogleRefusals(t *testing.T) {
	sa := account(t)
	other, err := googletest.NewServiceAccount("other")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		setup  func(g *googletest.Server)
		kind   tokencache.ErrorKind
		status int
		code   string
	}{
		"unknown account": {func(g *googletest.Server) {}, tokencache.KindRejected, 400, "invalid_grant"},
		"key replaced": {func(g *googletest.Server) {
			impostor := *other
			impostor.Email, impostor.KeyID = sa.Email, sa.KeyID
			g.AddAccount(&impostor)
		}, tokencache.KindRejected, 400, "invalid_grant"},
		"disabled":      {func(g *googletest.Server) { g.AddAccount(sa); g.DisableAccount(sa.Email) }, tokencache.KindRejected, 401, "invalid_client"},
		"google 500":    {func(g *googletest.Server) { g.SetFault(googletest.Fault{Status: 500}) }, tokencache.KindUnavailable, 500, "internal_failure"},
		"google 503":    {func(g *googletest.Server) { g.SetFault(googletest.Fault{Status: 503, Body: "<html>"}) }, tokencache.KindUnavailable, 503, ""},
		"throttled 429": {func(g *googletest.Server) { g.SetFault(googletest.Fault{Status: 429}) }, tokencache.KindUnavailable, 429, "invalid_grant"},
	} {
		t.Run(name, func(t *testing.T) {
			g := newGoogle(t)
			tc.setup(g)
			p, err := NewProject(sa.KeyJSON(DefaultTokenURL), Options{TokenURL: g.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Fetch(context.Background())
			var ue *tokencache.UpstreamError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is not an UpstreamError", err)
			}
			if ue.Kind != tc.kind || ue.StatusCode != tc.status || ue.Code != tc.code {
				t.Errorf("got %v %d %q, want %v %d %q", ue.Kind, ue.StatusCode, ue.Code, tc.kind, tc.status, tc.code)
			}
			if strings.Contains(err.Error(), "eyJ") || strings.Contains(err.Error(), "PRIVATE") {
				t.Errorf("error leaks the grant or key: %v", err)
			}
		})
	}
}

func TestGoogleUnreachable(t *testing.T) {
	sa := account(t)
	g := newGoogle(t)
	url := g.URL
	g.Close()
	p, err := NewProject(sa.KeyJSON(DefaultTokenURL), Options{TokenURL: url, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fetch(context.Background()); tokencache.KindOf(err) != tokencache.KindUnavailable {
		t.Fatalf("unreachable Google: %v, want KindUnavailable", err)
	}
}

// TestNoRedirectFollowed: a redirect would carry the signed grant to its
// target, here a Google emulator that would answer with a token. Not with
// the default client, nor with one the caller supplies: the 3xx is an
// upstream failure, as a 5xx (503 + Retry-After when nothing is cached).
func TestNoRedirectFollowed(t *testing.T) {
	sa := account(t)
	for name, hc := range map[string]*http.Client{"default": nil, "caller's own": {Timeout: 2 * time.Second}} {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			g := newGoogle(t)
			g.AddAccount(sa)
			rs := newHTTPServer(t, http.RedirectHandler(g.URL, status))
			g.SetAudience(rs + "/token") // the target would accept the grant
			p, err := NewProject(sa.KeyJSON(DefaultTokenURL), Options{TokenURL: rs + "/token", HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Fetch(context.Background())
			var ue *tokencache.UpstreamError
			if !errors.As(err, &ue) || ue.Kind != tokencache.KindUnavailable || ue.StatusCode != status {
				t.Errorf("%s, %d: %v, want KindUnavailable with the status", name, status, err)
			}
			if n := g.Calls(); n != 0 {
				t.Errorf("%s, %d: the redirect target got %d requests: the grant was re-sent", name, status, n)
			}
		}
	}
}

// TestSharedCacheOneFetchPerStampede drives the FCM fetcher through the
// token cache the HMS side uses: many concurrent cold requests, one grant.
func TestSharedCacheOneFetchPerStampede(t *testing.T) {
	sa := account(t)
	g := newGoogle(t)
	g.AddAccount(sa)
	p, err := NewProject(sa.KeyJSON(DefaultTokenURL), Options{TokenURL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := tokencache.New(tokencache.Config{RefreshBefore: 5 * time.Minute})
	var wg sync.WaitGroup
	toks := make([]string, 50)
	for i := range toks {
		wg.Go(func() {
			res, err := c.Get(context.Background(), "123", p)
			if err != nil {
				t.Error(err)
				return
			}
			toks[i] = res.Token.AccessToken
		})
	}
	wg.Wait()
	for _, tok := range toks {
		if tok != toks[0] || tok == "" {
			t.Fatal("callers got different tokens")
		}
	}
	if n := g.Calls(); n != 1 {
		t.Errorf("%d grants for one stampede, want 1", n)
	}
}

func BenchmarkFetch(b *testing.B) {
	sa := account(b)
	g := newGoogle(b)
	g.AddAccount(sa)
	p, err := NewProject(sa.KeyJSON(DefaultTokenURL), Options{TokenURL: g.URL})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Fetch(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
