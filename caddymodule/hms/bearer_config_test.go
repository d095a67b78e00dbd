package hms

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestParseBearer(t *testing.T) {
	d := caddyfile.NewTestDispenser(`bearer {
		jwks_url https://as.example.com/jwks
		issuer https://as.example.com
		audience https://auth.example.com/token
		scope a b
		introspection_url https://as.example.com/introspect
		introspection_client caddy {env.INTROSPECTION_SECRET}
		clock_skew 30s
		jwks_refresh_interval 10m
		jwks_min_refresh_interval 30s
	}`)
	d.Next()
	b, err := endpoint.ParseBearer(d)
	if err != nil {
		t.Fatal(err)
	}
	want := endpoint.BearerConfig{
		JWKSURL: "https://as.example.com/jwks", Issuer: "https://as.example.com",
		Audience: "https://auth.example.com/token", Scopes: []string{"a", "b"},
		IntrospectionURL: "https://as.example.com/introspect", IntrospectionClientID: "caddy",
		IntrospectionClientSecret: "{env.INTROSPECTION_SECRET}", ClockSkew: caddy.Duration(30 * time.Second),
		JWKSRefreshInterval: caddy.Duration(10 * time.Minute), JWKSMinRefreshInterval: caddy.Duration(30 * time.Second),
	}
	if fmt.Sprint(*b) != fmt.Sprint(want) {
		t.Errorf("parsed %+v\nwant   %+v", *b, want)
	}
}

func TestParseBearerErrors(t *testing.T) {
	const jwt = "jwks_url https://as/jwks\n issuer i\n audience a\n"
	for name, tc := range map[string]struct{ src, want string }{
		"unknown":             {"bearer {\n" + jwt + " frob x\n}", `unrecognized subdirective "frob"`},
		"repeated":            {"bearer {\n" + jwt + " clock_skew 1s\n clock_skew 2s\n}", "more than once"},
		"issuer twice":        {"bearer {\n" + jwt + " issuer j i\n}", "issuer i given twice"},
		"key twice":           {"bearer {\n public_key /a.pem\n public_key /a.pem\n issuer i\n audience a\n}", "public_key /a.pem given twice"},
		"empty":               {"bearer {\n}", "needs jwks_url, public_key or introspection_url"},
		"both key sources":    {"bearer {\n" + jwt + " public_key /k.pem\n}", "exclusive"},
		"no issuer":           {"bearer {\n jwks_url https://as/jwks\n audience a\n}", "issuer and audience"},
		"introspection alone": {"bearer {\n introspection_url https://as/i\n}", "introspection_client"},
		"client arity":        {"bearer {\n introspection_url https://as/i\n introspection_client x\n}", "exactly a client id"},
		"not a URL":           {"bearer {\n jwks_url /jwks\n issuer i\n audience a\n}", "absolute http(s) URL"},
		"bad duration":        {"bearer {\n" + jwt + " clock_skew soon\n}", "bad duration"},
		"argument":            {"bearer x {\n" + jwt + "}", "wrong argument count"},
	} {
		t.Run(name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.src)
			d.Next()
			_, err := endpoint.ParseBearer(d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestBearerConfigLoadErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real Caddy")
	}
	harness.StartCaddy(t, harness.Base+" {\n\trespond 204\n}\n")
	site := func(bearer string) string {
		return harness.GlobalOptions + fmt.Sprintf("%s {\n\troute /t {\n\t\tsinch_hms {\n\t\t\tbearer {\n%s\n\t\t\t}\n\t\t\thms_application 1 s\n\t\t}\n\t}\n}\n", harness.Base, bearer)
	}
	for name, tc := range map[string]struct{ bearer, want string }{
		"missing public key file": {"public_key /nonexistent/as.pem\nissuer i\naudience a", "public_key"},
		"missing env secret":      {"introspection_url https://as/i\nintrospection_client c {env.SINCH_HMS_TEST_MISSING}", "placeholder"},
		"no key source":           {"issuer i\naudience a", "needs jwks_url"},
	} {
		t.Run(name, func(t *testing.T) {
			if msg := harness.LoadError(t, site(tc.bearer)); !strings.Contains(msg, tc.want) {
				t.Errorf("load error %q does not contain %q", msg, tc.want)
			}
		})
	}
	t.Run("forward_credentials without forward", func(t *testing.T) {
		src := harness.GlobalOptions + fmt.Sprintf("%s {\n\tsinch_hms {\n\t\tsinch_application k %s\n\t\thms_application 1 s\n\t\tforward_credentials\n\t}\n}\n",
			harness.Base, harness.SinchSecret)
		if msg := harness.LoadError(t, src); !strings.Contains(msg, "forward_credentials needs forward") {
			t.Errorf("load error %q", msg)
		}
	})
}
