package oauthserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

const (
	testClientID = "sinch"
	// A secret with the characters that RFC 6749 §2.3.1's form encoding of
	// Basic credentials exists for.
	testSecret = "s3cr:et+with/odd=chars% é"
	testIssuer = "https://auth.example.com"
	testAud    = "https://auth.example.com"
)

var testNow = time.Unix(1_800_000_000, 0)

func newTestServer(t testing.TB, scopes ...string) (*Server, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{
		Clients: map[string]string{testClientID: testSecret, "other": "other-secret"},
		Scopes:  scopes,
		Key:     priv,
		Now:     func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, pub
}

func form(kv ...string) oauthresp.Form {
	f := oauthresp.Form{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return f
}

// basic builds an RFC 6749 §2.3.1 Authorization header: each part
// form-urlencoded, then joined and base64-encoded.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// verify parses tok as an RFC 9068 token signed by pub and returns its
// claims.
func verify(t *testing.T, tok string, pub ed25519.PublicKey) (*claims, *jwt.Token) {
	t.Helper()
	var c claims
	parsed, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(func() time.Time { return testNow }),
		jwt.WithIssuer(testIssuer), jwt.WithAudience(testAud), jwt.WithStrictDecoding())
	if err != nil {
		t.Fatalf("issued token does not verify: %v", err)
	}
	return &c, parsed
}

func TestExchangeSecretPostIssuesRFC9068Token(t *testing.T) {
	s, pub := newTestServer(t)
	iss, oerr := s.Exchange(form("grant_type", "client_credentials", "client_id", testClientID,
		"client_secret", testSecret, "scope", ScopeFCMMessaging), "", testIssuer, testAud)
	if oerr != nil {
		t.Fatal(oerr)
	}
	if iss.Method != MethodSecretPost || iss.ClientID != testClientID || iss.ExpiresIn != 3600 || iss.ScopeChanged {
		t.Errorf("issued %+v", iss)
	}
	c, parsed := verify(t, iss.AccessToken, pub)
	if parsed.Header["typ"] != "at+jwt" || parsed.Header["kid"] != s.KeyID() || parsed.Header["alg"] != "EdDSA" {
		t.Errorf("header %v", parsed.Header)
	}
	if c.Subject != testClientID || c.ClientID != testClientID || c.Scope != ScopeFCMMessaging ||
		c.ID == "" || !c.IssuedAt.Equal(testNow) || !c.ExpiresAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("claims %+v", c)
	}
	var body map[string]any
	if err := json.Unmarshal(iss.Body(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 3 || body["token_type"] != "Bearer" || body["expires_in"] != 3600.0 || body["access_token"] != iss.AccessToken {
		t.Errorf("body %s: want exactly access_token, expires_in, token_type when the scope is as requested", iss.Body())
	}
}

func TestExchangeJTIUnique(t *testing.T) {
	s, _ := newTestServer(t)
	seen := map[string]bool{}
	for range 50 {
		iss, oerr := s.Exchange(form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret), "", testIssuer, testAud)
		if oerr != nil {
			t.Fatal(oerr)
		}
		p := jwt.NewParser()
		var c claims
		if _, _, err := p.ParseUnverified(iss.AccessToken, &c); err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("jti %q issued twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestExchangeSecretBasicDecodesFormEncoding(t *testing.T) {
	s, pub := newTestServer(t)
	iss, oerr := s.Exchange(form("grant_type", "client_credentials"), basic(testClientID, testSecret), testIssuer, testAud)
	if oerr != nil {
		t.Fatalf("Basic with form-encoded credentials refused: %v", oerr)
	}
	if iss.Method != MethodSecretBasic {
		t.Errorf("method %q", iss.Method)
	}
	verify(t, iss.AccessToken, pub)

	// The same client_id in the body is allowed alongside Basic.
	if _, oerr := s.Exchange(form("grant_type", "client_credentials", "client_id", testClientID), basic(testClientID, testSecret), testIssuer, testAud); oerr != nil {
		t.Errorf("Basic plus matching client_id refused: %v", oerr)
	}
}

func TestExchangeNoScopeGrantsDefaultsAndSaysSo(t *testing.T) {
	s, pub := newTestServer(t)
	iss, oerr := s.Exchange(form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret), "", testIssuer, testAud)
	if oerr != nil {
		t.Fatal(oerr)
	}
	c, _ := verify(t, iss.AccessToken, pub)
	want := strings.Join(DefaultScopes, " ")
	if c.Scope != want || !iss.ScopeChanged {
		t.Errorf("scope %q changed=%v, want %q", c.Scope, iss.ScopeChanged, want)
	}
	var body map[string]any
	_ = json.Unmarshal(iss.Body(), &body)
	if body["scope"] != want {
		t.Errorf("RFC 6749 §5.1: a granted scope other than requested must be in the answer: %s", iss.Body())
	}
}

func TestExchangeScopeSubset(t *testing.T) {
	s, pub := newTestServer(t, "a", "b", "c")
	iss, oerr := s.Exchange(form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret, "scope", "c  a c"), "", testIssuer, testAud)
	if oerr != nil {
		t.Fatal(oerr)
	}
	c, _ := verify(t, iss.AccessToken, pub)
	if c.Scope != "c a" || !slices.Equal(iss.Scopes, []string{"c", "a"}) {
		t.Errorf("scope %q", c.Scope)
	}
}

func TestExchangeRefusals(t *testing.T) {
	s, _ := newTestServer(t)
	good := []string{"client_id", testClientID, "client_secret", testSecret}
	cc := []string{"grant_type", "client_credentials"}
	for name, tc := range map[string]struct {
		form   oauthresp.Form
		auth   string
		status int
		code   string
	}{
		"no grant_type":        {form(good...), "", 400, "invalid_request"},
		"password grant":       {form(append([]string{"grant_type", "password"}, good...)...), "", 400, "unsupported_grant_type"},
		"no credentials":       {form(cc...), "", 401, "invalid_client"},
		"wrong secret":         {form(append(cc, "client_id", testClientID, "client_secret", testSecret+"x")...), "", 401, "invalid_client"},
		"secret prefix":        {form(append(cc, "client_id", testClientID, "client_secret", testSecret[:5])...), "", 401, "invalid_client"},
		"empty secret":         {form(append(cc, "client_id", testClientID, "client_secret", "")...), "", 401, "invalid_client"},
		"other client secret":  {form(append(cc, "client_id", testClientID, "client_secret", "other-secret")...), "", 401, "invalid_client"},
		"unknown client":       {form(append(cc, "client_id", "nobody", "client_secret", testSecret)...), "", 401, "invalid_client"},
		"id without secret":    {form(append(cc, "client_id", testClientID)...), "", 401, "invalid_client"},
		"secret without id":    {form(append(cc, "client_secret", testSecret)...), "", 401, "invalid_client"},
		"both methods":         {form(append(cc, good...)...), basic(testClientID, testSecret), 400, "invalid_request"},
		"basic id differs":     {form(append(cc, "client_id", "other")...), basic(testClientID, testSecret), 400, "invalid_request"},
		"basic wrong secret":   {form(cc...), basic(testClientID, "nope"), 401, "invalid_client"},
		"basic not form-coded": {form(cc...), "Basic " + base64.StdEncoding.EncodeToString([]byte(testClientID+":%zz")), 401, "invalid_client"},
		"basic no colon":       {form(cc...), "Basic " + base64.StdEncoding.EncodeToString([]byte(testClientID)), 401, "invalid_client"},
		"basic not base64":     {form(cc...), "Basic !!!", 401, "invalid_client"},
		"bearer scheme":        {form(append(cc, good...)...), "Bearer abc", 401, "invalid_client"},
		"disallowed scope":     {form(append(append(cc, good...), "scope", "openid")...), "", 400, "invalid_scope"},
		"one scope disallowed": {form(append(append(cc, good...), "scope", ScopeHuaweiPush+" openid")...), "", 400, "invalid_scope"},
		"empty scope":          {form(append(append(cc, good...), "scope", " ")...), "", 400, "invalid_scope"},
	} {
		t.Run(name, func(t *testing.T) {
			iss, oerr := s.Exchange(tc.form, tc.auth, testIssuer, testAud)
			if oerr == nil {
				t.Fatalf("granted %+v", iss)
			}
			if oerr.Status != tc.status || oerr.Code != tc.code {
				t.Errorf("got %d %s (%s), want %d %s", oerr.Status, oerr.Code, oerr.Description, tc.status, tc.code)
			}
			if tc.status == http.StatusUnauthorized && !strings.HasPrefix(oerr.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %v", oerr.Header)
			}
			if strings.Contains(oerr.Description, testSecret) || strings.Contains(oerr.Description, "other-secret") {
				t.Errorf("description leaks a secret: %q", oerr.Description)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	for name, cfg := range map[string]Config{
		"no clients":     {Key: priv},
		"no key":         {Clients: map[string]string{"a": "b"}},
		"empty secret":   {Clients: map[string]string{"a": ""}, Key: priv},
		"space in id":    {Clients: map[string]string{"a b": "c"}, Key: priv},
		"two-word scope": {Clients: map[string]string{"a": "b"}, Key: priv, Scopes: []string{"x y"}},
		"negative life":  {Clients: map[string]string{"a": "b"}, Key: priv, TokenLifetime: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func BenchmarkExchange(b *testing.B) {
	s, _ := newTestServer(b)
	f := form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret, "scope", ScopeHuaweiPush)
	b.ReportAllocs()
	for b.Loop() {
		if _, oerr := s.Exchange(f, "", testIssuer, testAud); oerr != nil {
			b.Fatal(oerr)
		}
	}
}

func TestPresentedClientID(t *testing.T) {
	s, _ := newTestServer(t)
	for name, tc := range map[string]struct {
		form          oauthresp.Form
		authorization string
		id            string
		known         bool
	}{
		"post, known":           {form("client_id", testClientID), "", testClientID, true},
		"post, unknown":         {form("client_id", "pasted-secret"), "", "pasted-secret", false},
		"basic, known":          {form(), basic(testClientID, "x"), testClientID, true},
		"basic, unknown":        {form(), basic("nobody", "x"), "nobody", false},
		"basic wins":            {form("client_id", "other"), basic(testClientID, "x"), testClientID, true},
		"malformed basic":       {form("client_id", "other"), "Basic %%%", "other", true},
		"none":                  {form(), "", "", false},
		"bearer, body id known": {form("client_id", testClientID), "Bearer x", testClientID, true},
	} {
		id, known := s.PresentedClientID(tc.form, tc.authorization)
		if id != tc.id || known != tc.known {
			t.Errorf("%s: (%q, %v), want (%q, %v)", name, id, known, tc.id, tc.known)
		}
	}
}
