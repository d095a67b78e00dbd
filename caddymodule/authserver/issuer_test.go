package authserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

// adaptAS adapts a Caddyfile whose site holds sinch_oauth_server (no
// issuer) and returns the adapted handler's issuer, or the error.
func adaptAS(t *testing.T, global, site string) (string, error) {
	t.Helper()
	src := global + "\n" + site + ` {
	sinch_oauth_server {
		client c {env.C}
		signing_key /k.pem
	}
}
`
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), nil)
	if err != nil {
		return "", err
	}
	var found string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "sinch_oauth_server" {
				found, _ = v["issuer"].(string)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	var cfg any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	walk(cfg)
	return found, nil
}

// TestDefaultIssuerIsTheSiteAddress: without `issuer`, the Caddyfile
// adapter writes the site's origin into the config (so `caddy adapt` shows
// it); a site without one fixed host is an error naming the line.
func TestDefaultIssuerIsTheSiteAddress(t *testing.T) {
	for _, tc := range []struct{ global, site, want string }{
		{"", "auth.example.com", "https://auth.example.com"},
		{"", "Auth.Example.com:443", "https://auth.example.com"},
		{"", "http://auth.example.com", "http://auth.example.com"},
		{"", "auth.example.com:8443", "https://auth.example.com:8443"},
		{"{\n\thttp_port 8080\n}", "localhost:8080", "http://localhost:8080"},
		{"{\n\thttp_port 8080\n}", "http://localhost", "http://localhost:8080"},
		{"{\n\tauto_https off\n}", "auth.example.com:9000", "http://auth.example.com:9000"},
		{"", "[::1]:9000", "https://[::1]:9000"},
		{"", "auth.example.com, https://auth.example.com:443", "https://auth.example.com"},
	} {
		got, err := adaptAS(t, tc.global, tc.site)
		if err != nil || got != tc.want {
			t.Errorf("site %q: issuer %q, error %v; want %q", tc.site, got, err, tc.want)
		}
	}
	for site, why := range map[string]string{
		":8080":                               "no fixed host",
		"http://":                             "no fixed host",
		"*.example.com":                       "no fixed host",
		"a.example.com, b.example.com":        "2 origins",
		"auth.example.com, :9443":             "no fixed host",
		"http://a.example.com, a.example.com": "2 origins",
	} {
		_, err := adaptAS(t, "", site)
		if err == nil || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "no issuer") ||
			!strings.Contains(err.Error(), "Caddyfile:3") {
			t.Errorf("site %q: error %v, want one naming Caddyfile:3, \"no issuer\" and %q", site, err, why)
		}
	}
	// With issuer set, any site will do.
	src := ":8080 {\n\tsinch_oauth_server {\n\t\tclient c {env.C}\n\t\tsigning_key /k.pem\n\t\tissuer https://as.example\n\t}\n}\n"
	if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), nil); err != nil {
		t.Errorf("catch-all site with issuer: %v", err)
	}
}

// TestJSONConfigWithoutIssuerIsRefused: the JSON config has no site to
// default from, and a request's Host is never the issuer.
func TestJSONConfigWithoutIssuerIsRefused(t *testing.T) {
	keys := harness.NewASKeys(t)
	harness.StartCaddy(t, harness.Base+" {\n\trespond 204\n}\n")
	cfg := fmt.Sprintf(`{"admin":{"listen":"localhost:%d"},"apps":{"http":{"servers":{"s":{"listen":[":%d"],"routes":[{"handle":[
		{"handler":"sinch_oauth_server","clients":[{"client_id":"c","client_secret":%q}],"signing_key":%q}]}]}}}}}`,
		harness.AdminPort, harness.HTTPPort, harness.ClientSecret, keys.PrivPath)
	resp, err := harness.Admin.Post(harness.AdminURL+"/load", "application/json", strings.NewReader(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	_, _ = fmt.Fprint(&body, resp.Status)
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(buf[:n]), "issuer is required") {
		t.Errorf("JSON config without issuer: %s %s, want a refusal saying issuer is required", body.String(), buf[:n])
	}
}

// TestForgedHostNeverChangesIssuer: a token request under a forged Host
// (the site's host name with another port, which still reaches the
// handler; any name at a catch-all site) gets a token whose iss and aud
// are the configured ones, and that a verifier of the real issuer accepts.
func TestForgedHostNeverChangesIssuer(t *testing.T) {
	keys := harness.NewASKeys(t)
	const fixed = "https://auth.example.com"
	catchAll := fmt.Sprintf(":%d {\n\troute /fixed/* {\n\t\turi strip_prefix /fixed%s\t}\n}\n", harness.HTTPPort,
		harness.ASRoute(keys.PrivPath, "issuer "+fixed))
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath, "")+"}\n"+catchAll)

	verifier := func(issuer string) *bearerauth.JWTVerifier {
		ks, err := bearerauth.NewStaticKeys(keys.Pub)
		if err != nil {
			t.Fatal(err)
		}
		v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{Keys: ks, Issuer: issuer, Audience: issuer})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		path, host, want string
	}{
		{harness.ASPath, "", harness.Base},
		{harness.ASPath, "localhost:1", harness.Base},
		{harness.ASPath, "LOCALHOST:9", harness.Base},
		{"/fixed" + harness.ASPath, "evil.example", fixed},
		{"/fixed" + harness.ASPath, "auth.example.com.evil.example", fixed},
	} {
		req, _ := http.NewRequest(http.MethodPost, harness.Base+tc.path, strings.NewReader(harness.ClientCredentials(oauthserver.ScopeFCMMessaging).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.host != "" {
			req.Host = tc.host
		}
		tok := harness.Do(t, tester.Client, req).WantToken(t)
		claims, _ := asClaims(t, tok, keys.Pub)
		if claims["iss"] != tc.want || fmt.Sprint(claims["aud"]) != "["+tc.want+"]" {
			t.Errorf("Host %q: iss %v aud %v, want %s", tc.host, claims["iss"], claims["aud"], tc.want)
		}
		if _, err := verifier(tc.want).Verify(context.Background(), tok); err != nil {
			t.Errorf("Host %q: the verifier of the real issuer refuses the token: %v", tc.host, err)
		}
		if tc.host != "" {
			if _, err := verifier("http://"+tc.host).Verify(context.Background(), tok); err == nil {
				t.Errorf("Host %q: a verifier of the forged issuer accepts the token", tc.host)
			}
		}
	}
}
