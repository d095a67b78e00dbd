package googletest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	saOnce sync.Once
	sa     *ServiceAccount
	sa2    *ServiceAccount
)

func accounts(t *testing.T) (*ServiceAccount, *ServiceAccount) {
	t.Helper()
	saOnce.Do(func() {
		var err error
		if sa, err = NewServiceAccount("p1"); err != nil {
			t.Fatal(err)
		}
		if sa2, err = NewServiceAccount("p2"); err != nil {
			t.Fatal(err)
		}
	})
	return sa, sa2
}

type grant struct {
	alg    jwt.SigningMethod
	key    any
	kid    string
	claims jwt.MapClaims
}

// validGrant is what x/oauth2's google package sends for the account.
func validGrant(acct *ServiceAccount, aud string) grant {
	now := time.Now()
	return grant{alg: jwt.SigningMethodRS256, key: acct.Key, kid: acct.KeyID, claims: jwt.MapClaims{
		"iss": acct.Email, "scope": FCMScope, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}}
}

func (g grant) sign(t *testing.T) string {
	t.Helper()
	tok := jwt.NewWithClaims(g.alg, g.claims)
	if g.kid != "" {
		tok.Header["kid"] = g.kid
	}
	s, err := tok.SignedString(g.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func post(t *testing.T, target string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(target, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestEmulatorIssuesForValidGrant(t *testing.T) {
	a, _ := accounts(t)
	s := NewServer()
	defer s.Close()
	s.AddAccount(a)
	status, body := post(t, s.URL, url.Values{"grant_type": {GrantType}, "assertion": {validGrant(a, s.URL).sign(t)}})
	if status != 200 || body["token_type"] != "Bearer" || body["expires_in"] != float64(DefaultExpiresIn) {
		t.Fatalf("%d %v", status, body)
	}
	tok, _ := body["access_token"].(string)
	if !strings.HasPrefix(tok, "ya29.") || s.IssuedTokens(a.Email)[0] != tok || s.Calls() != 1 {
		t.Errorf("token %q not recorded", tok)
	}
}

func TestEmulatorVerifiesGrant(t *testing.T) {
	a, b := accounts(t)
	s := NewServer()
	defer s.Close()
	s.AddAccount(a)
	now := time.Now()
	for name, tc := range map[string]struct {
		mutate func(g *grant)
		form   func(f url.Values)
		status int
		code   string
	}{
		"signed by another key": {mutate: func(g *grant) { g.key = b.Key }, status: 400, code: "invalid_grant"},
		"unknown account":       {mutate: func(g *grant) { g.claims["iss"] = b.Email; g.key = b.Key; g.kid = b.KeyID }, status: 400, code: "invalid_grant"},
		"HS256":                 {mutate: func(g *grant) { g.alg = jwt.SigningMethodHS256; g.key = []byte("k") }, status: 400, code: "invalid_grant"},
		"unknown kid":           {mutate: func(g *grant) { g.kid = "deadbeef" }, status: 400, code: "invalid_grant"},
		"wrong aud":             {mutate: func(g *grant) { g.claims["aud"] = "https://oauth2.googleapis.com/token" }, status: 400, code: "invalid_grant"},
		"expired": {mutate: func(g *grant) {
			g.claims["iat"] = now.Add(-2 * time.Hour).Unix()
			g.claims["exp"] = now.Add(-time.Hour).Unix()
		}, status: 400, code: "invalid_grant"},
		"too long":         {mutate: func(g *grant) { g.claims["exp"] = now.Add(2 * time.Hour).Unix() }, status: 400, code: "invalid_grant"},
		"iat in future":    {mutate: func(g *grant) { g.claims["iat"] = now.Add(time.Hour).Unix() }, status: 400, code: "invalid_grant"},
		"no exp":           {mutate: func(g *grant) { delete(g.claims, "exp") }, status: 400, code: "invalid_grant"},
		"other scope":      {mutate: func(g *grant) { g.claims["scope"] = "https://www.googleapis.com/auth/cloud-platform" }, status: 400, code: "invalid_scope"},
		"wrong grant type": {form: func(f url.Values) { f.Set("grant_type", "client_credentials") }, status: 400, code: "unsupported_grant_type"},
		"no assertion":     {form: func(f url.Values) { f.Del("assertion") }, status: 400, code: "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			g := validGrant(a, s.URL)
			if tc.mutate != nil {
				tc.mutate(&g)
			}
			f := url.Values{"grant_type": {GrantType}, "assertion": {g.sign(t)}}
			if tc.form != nil {
				tc.form(f)
			}
			status, body := post(t, s.URL, f)
			if status != tc.status || body["error"] != tc.code || body["error_description"] == "" {
				t.Errorf("%d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if len(s.IssuedTokens(a.Email)) != 0 {
				t.Error("a token was issued")
			}
		})
	}
}

func TestEmulatorDisabledAndFaults(t *testing.T) {
	a, _ := accounts(t)
	s := NewServer()
	defer s.Close()
	s.AddAccount(a)
	s.DisableAccount(a.Email)
	f := url.Values{"grant_type": {GrantType}, "assertion": {validGrant(a, s.URL).sign(t)}}
	if status, body := post(t, s.URL, f); status != 401 || body["error"] != "invalid_client" {
		t.Errorf("disabled: %d %v", status, body)
	}
	s.SetFault(Fault{Status: 503})
	if status, _ := post(t, s.URL, f); status != 503 {
		t.Errorf("fault: %d", status)
	}
	if s.Calls() != 2 {
		t.Errorf("calls %d", s.Calls())
	}
}
