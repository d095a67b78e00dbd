package authserver

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/golang-jwt/jwt/v5"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

// asClaims verifies an issued token with pub and returns its claims.
func asClaims(t *testing.T, tok string, pub ed25519.PublicKey) (jwt.MapClaims, map[string]any) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithStrictDecoding())
	if err != nil {
		t.Fatalf("token does not verify with the signing key's public half: %v", err)
	}
	return claims, parsed.Header
}

func TestOAuthServerIssuesRFC9068Tokens(t *testing.T) {
	keys := harness.NewASKeys(t)
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath, "")+"}\n")

	// client_secret_post, as the Sinch Dashboard's Client Id / Secret send it.
	post := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials(oauthserver.ScopeFCMMessaging).Encode())
	tok := post.WantToken(t)
	if ei := post.ExpiresIn(t); ei < 3590 || ei > 3600 {
		t.Errorf("expires_in %d, want about 3600", ei)
	}
	claims, header := asClaims(t, tok, keys.Pub)
	if header["typ"] != "at+jwt" || header["kid"] != oauthserver.Thumbprint(keys.Pub) {
		t.Errorf("header %v", header)
	}
	for k, want := range map[string]any{
		"iss": harness.Base, "aud": harness.Base, "sub": harness.ClientID, "client_id": harness.ClientID,
		"scope": oauthserver.ScopeFCMMessaging,
	} {
		if got := claims[k]; got != want && !(k == "aud" && fmt.Sprint(got) == "["+harness.Base+"]") {
			t.Errorf("claim %s = %v, want %v", k, got, want)
		}
	}
	if claims["jti"] == "" || claims["iat"] == nil || claims["exp"] == nil {
		t.Errorf("claims %v lack jti/iat/exp", claims)
	}

	// client_secret_basic, credentials form-urlencoded before base64.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(harness.ClientID)+":"+url.QueryEscape(harness.ClientSecret)))
	a := harness.PostForm(t, tester.Client, harness.ASURL, "grant_type=client_credentials&scope="+url.QueryEscape(oauthserver.ScopeHuaweiPush), "Authorization", basic)
	claims, _ = asClaims(t, a.WantToken(t), keys.Pub)
	if claims["scope"] != oauthserver.ScopeHuaweiPush {
		t.Errorf("scope %v", claims["scope"])
	}
}

func TestOAuthServerNoScopeGrantsDefaults(t *testing.T) {
	keys := harness.NewASKeys(t)
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath, "")+"}\n")
	a := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials("").Encode())
	if a.Status != http.StatusOK {
		t.Fatalf("status %d: %s", a.Status, a.Raw)
	}
	want := oauthserver.ScopeHuaweiPush + " " + oauthserver.ScopeFCMMessaging
	if a.Body["scope"] != want {
		t.Errorf("scope in answer %v, want %q (RFC 6749 §5.1: granted differs from requested)", a.Body["scope"], want)
	}
}

func TestOAuthServerJWKS(t *testing.T) {
	keys := harness.NewASKeys(t)
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath, "")+"}\n")
	req, _ := http.NewRequest(http.MethodGet, harness.ASURL, nil)
	a := harness.Do(t, tester.Client, req)
	if a.Status != http.StatusOK || a.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("GET: %d %v %s", a.Status, a.Header, a.Raw)
	}
	var set oauthserver.JWKS
	if err := json.Unmarshal([]byte(a.Raw), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", a.Raw, err)
	}
	x, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if !keys.Pub.Equal(ed25519.PublicKey(x)) || set.Keys[0].Kid != oauthserver.Thumbprint(keys.Pub) {
		t.Errorf("jwks does not publish the signing key: %s", a.Raw)
	}
	if strings.Contains(a.Raw, `"d"`) {
		t.Errorf("jwks holds private key material: %s", a.Raw)
	}
}

func TestOAuthServerConfiguredIssuerAudienceLifetime(t *testing.T) {
	keys := harness.NewASKeys(t)
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath, "issuer https://auth.example.com\n\t\t\taudience sinch-push\n\t\t\ttoken_lifetime 10m\n\t\t\tscope only-this")+"}\n")
	a := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials("only-this").Encode())
	claims, _ := asClaims(t, a.WantToken(t), keys.Pub)
	if claims["iss"] != "https://auth.example.com" || fmt.Sprint(claims["aud"]) != "[sinch-push]" {
		t.Errorf("iss/aud %v %v", claims["iss"], claims["aud"])
	}
	if ei := a.ExpiresIn(t); ei > 600 || ei < 590 {
		t.Errorf("expires_in %d, want about 600", ei)
	}
	harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials(oauthserver.ScopeFCMMessaging).Encode()).
		WantError(t, http.StatusBadRequest, "invalid_scope")
}

func TestOAuthServerRefusals(t *testing.T) {
	keys := harness.NewASKeys(t)
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath, "")+"}\n")
	badCredsBefore := harness.Sample(t, harness.Metrics(t), `caddy_sinch_oauth_server_rejections_total{reason="bad_client_credentials"}`)
	wrong := harness.ClientCredentials("")
	wrong.Set("client_secret", harness.ClientSecret+"x")
	a := harness.PostForm(t, tester.Client, harness.ASURL, wrong.Encode())
	a.WantError(t, http.StatusUnauthorized, "invalid_client")
	if !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("401 without WWW-Authenticate: Basic: %v", a.Header)
	}

	badBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte(harness.ClientID+":nope"))
	a = harness.PostForm(t, tester.Client, harness.ASURL, "grant_type=client_credentials", "Authorization", badBasic)
	a.WantError(t, http.StatusUnauthorized, "invalid_client")
	if !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("401 to a Basic client without WWW-Authenticate: Basic: %v", a.Header)
	}

	harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials("https://example.com/admin").Encode()).
		WantError(t, http.StatusBadRequest, "invalid_scope")
	cc := harness.ClientCredentials("")
	cc.Set("grant_type", "password")
	harness.PostForm(t, tester.Client, harness.ASURL, cc.Encode()).WantError(t, http.StatusBadRequest, "unsupported_grant_type")
	harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials("").Encode(), "Authorization",
		"Basic "+base64.StdEncoding.EncodeToString([]byte(harness.ClientID+":"+url.QueryEscape(harness.ClientSecret)))).
		WantError(t, http.StatusBadRequest, "invalid_request")
	req, _ := http.NewRequest(http.MethodPut, harness.ASURL, nil)
	a = harness.Do(t, tester.Client, req)
	a.WantError(t, http.StatusMethodNotAllowed, "invalid_request")
	if a.Header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
	if strings.Contains(a.Raw+fmt.Sprint(a.Header), harness.ClientSecret) {
		t.Error("answer echoes the client secret")
	}
	if d := harness.Sample(t, harness.Metrics(t), `caddy_sinch_oauth_server_rejections_total{reason="bad_client_credentials"}`) - badCredsBefore; d != 2 {
		t.Errorf("sinch_oauth_server rejections_total{reason=bad_client_credentials} +%v, want +2", d)
	}
}

func TestOAuthServerCaddyfile(t *testing.T) {
	var s OAuthServer
	err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`sinch_oauth_server {
		client a {env.A_SECRET}
		client b plain
		scope x y
		token_lifetime 30m
		signing_key {env.KEY_PATH}
		issuer https://i.example
		audience aud
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Clients) != 2 || s.Clients[0].ClientSecret != "{env.A_SECRET}" || len(s.Scopes) != 2 ||
		s.TokenLifetime != caddy.Duration(30*time.Minute) || s.SigningKey != "{env.KEY_PATH}" || s.Issuer != "https://i.example" || s.Audience != "aud" {
		t.Errorf("parsed %+v", s)
	}
	for src, want := range map[string]string{
		"sinch_oauth_server {\n client a\n}":               "exactly a client_id",
		"sinch_oauth_server {\n issuer a\n issuer b\n}":    "more than once",
		"sinch_oauth_server {\n frob\n}":                   "unrecognized subdirective",
		"sinch_oauth_server {\n token_lifetime forever\n}": "bad duration",
		"sinch_oauth_server {\n signing_key a b\n}":        "wrong argument count",
	} {
		var s OAuthServer
		if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

func TestOAuthServerLoadErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real Caddy")
	}
	keys := harness.NewASKeys(t)
	rsaLike := filepath.Join(t.TempDir(), "not-a-key.pem")
	if err := os.WriteFile(rsaLike, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	harness.StartCaddy(t, harness.Base+" {\n\trespond 204\n}\n")
	site := func(body string) string {
		return harness.GlobalOptions + fmt.Sprintf("%s {\n\troute /t {\n\t\tsinch_oauth_server {\n%s\n\t\t}\n\t}\n}\n", harness.Base, body)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"no client":      {"signing_key " + keys.PrivPath, "no client"},
		"no signing key": {"client a " + harness.ClientSecret, "signing_key is required"},
		"missing key":    {"client a " + harness.ClientSecret + "\nsigning_key /nonexistent/key.pem", "no such file"},
		"not a key":      {"client a " + harness.ClientSecret + "\nsigning_key " + rsaLike, "PKCS#8"},
		"missing secret": {"client a {env.SINCH_HMS_TEST_MISSING}\nsigning_key " + keys.PrivPath, "placeholder"},
	} {
		t.Run(name, func(t *testing.T) {
			if msg := harness.LoadError(t, site(tc.body)); !strings.Contains(msg, tc.want) {
				t.Errorf("load error %q does not contain %q", msg, tc.want)
			}
		})
	}
}
