package authserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

// TestOAuthServerSeveralSigningKeys: the first signing_key signs, every
// one is in the JWKS, by its thumbprint.
func TestOAuthServerSeveralSigningKeys(t *testing.T) {
	first, second := harness.NewASKeys(t), harness.NewASKeys(t)
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(first.PrivPath, "signing_key "+second.PrivPath)+"}\n")
	tok := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials("").Encode())
	_, header := asClaims(t, tok.Body["access_token"].(string), first.Pub)
	if header["kid"] != oauthserver.Thumbprint(first.Pub) {
		t.Errorf("kid %v, want the first key's", header["kid"])
	}
	req, _ := http.NewRequest(http.MethodGet, harness.ASURL, nil)
	var set oauthserver.JWKS
	if err := json.Unmarshal([]byte(harness.Do(t, tester.Client, req).Raw), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	want := []string{oauthserver.Thumbprint(first.Pub), oauthserver.Thumbprint(second.Pub)}
	if strings.Join(kids, ",") != strings.Join(want, ",") {
		t.Errorf("JWKS kids %v, want %v", kids, want)
	}
}

// TestOAuthServerClientScopes: a client's own scopes narrow what it may
// ask for, and are what it gets without asking; another client keeps the
// server's.
func TestOAuthServerClientScopes(t *testing.T) {
	keys := harness.NewASKeys(t)
	const narrowID, narrowSecret = "narrow-client", "narrow-secret-0123456789"
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath,
		"client "+narrowID+" "+narrowSecret+" {\n\t\t\t\tscope "+oauthserver.ScopeHuaweiPush+"\n\t\t\t}")+"}\n")
	narrow := func(scope string) harness.Answer {
		form := harness.ClientCredentials(scope)
		form.Set("client_id", narrowID)
		form.Set("client_secret", narrowSecret)
		return harness.PostForm(t, tester.Client, harness.ASURL, form.Encode())
	}
	a := narrow("")
	if a.Status != http.StatusOK || a.Body["scope"] != oauthserver.ScopeHuaweiPush {
		t.Errorf("no scope asked: %d %s, want the client's one scope", a.Status, a.Raw)
	}
	claims, _ := asClaims(t, a.Body["access_token"].(string), keys.Pub)
	if claims["scope"] != oauthserver.ScopeHuaweiPush {
		t.Errorf("token scope %v", claims["scope"])
	}
	narrow(oauthserver.ScopeFCMMessaging).WantError(t, http.StatusBadRequest, "invalid_scope")
	narrow(oauthserver.ScopeHuaweiPush).WantToken(t)
	// The other client has every allowed scope.
	wide := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials("").Encode())
	if wide.Body["scope"] != oauthserver.ScopeHuaweiPush+" "+oauthserver.ScopeFCMMessaging {
		t.Errorf("client without scopes: %s", wide.Raw)
	}
	harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials(oauthserver.ScopeFCMMessaging).Encode()).WantToken(t)
}

func TestOAuthServerCaddyfileRepeatables(t *testing.T) {
	var s OAuthServer
	err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`sinch_oauth_server {
		client a {env.A} {
			scope x
			scope y z
		}
		client b {env.B}
		signing_key /new.pem
		signing_key /old.pem
		limit_store redis redis://r:6379/0 {
			password {env.REDIS_PASSWORD}
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Clients[0].Scopes, " ") != "x y z" || s.Clients[1].Scopes != nil ||
		s.SigningKey != "/new.pem" || strings.Join(s.SigningKeys, ",") != "/old.pem" ||
		!s.LimitStore.IsRedis() || s.LimitStore.Password != "{env.REDIS_PASSWORD}" {
		t.Errorf("parsed %+v (limit store %+v)", s, s.LimitStore)
	}
	for src, want := range map[string]string{
		"sinch_oauth_server {\n client a b {\n  frob\n }\n}":                `client a: unrecognized subdirective "frob"`,
		"sinch_oauth_server {\n client a b {\n  scope\n }\n}":               "wrong argument count",
		"sinch_oauth_server {\n signing_key /a\n signing_key /a\n}":         "signing_key /a given twice",
		"sinch_oauth_server {\n limit_store disk\n}":                        `unknown backend "disk"`,
		"sinch_oauth_server {\n limit_store memory\n limit_store memory\n}": "more than once",
	} {
		var s OAuthServer
		if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}
