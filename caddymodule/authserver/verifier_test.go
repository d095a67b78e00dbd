package authserver

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// TestBearerSeveralIssuersAndKeys: sinch_hms's bearer block with one PEM
// file holding two keys and two issuers and audiences accepts the tokens
// of both Authorization Servers, and refuses a third issuer's even when
// its key is known.
func TestBearerSeveralIssuersAndKeys(t *testing.T) {
	emu := harness.NewHuawei(t)
	k1, k2 := harness.NewASKeys(t), harness.NewASKeys(t)
	both := filepath.Join(t.TempDir(), "both.pem")
	var pems []byte
	for _, k := range []harness.ASKeys{k1, k2} {
		b, err := os.ReadFile(k.PubPath)
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, b...)
	}
	if err := os.WriteFile(both, pems, 0o644); err != nil {
		t.Fatal(err)
	}
	as := func(path, key, issuer string) string {
		return fmt.Sprintf(`
	route %s {
		uri replace %s %s
		sinch_oauth_server {
			client %s %s
			signing_key %s
			issuer %s
		}
	}`, path, path, harness.ASPath, harness.ClientID, harness.ClientSecret, key, issuer)
	}
	site := harness.Base + " {" + as("/as1", k1.PrivPath, "https://as1.test") + as("/as2", k2.PrivPath, "https://as2.test") +
		as("/as3", k2.PrivPath, "https://as3.test") + fmt.Sprintf(`
	route %s {
		sinch_hms {
			bearer {
				public_key %s
				issuer https://as1.test
				issuer https://as2.test
				audience https://as1.test https://as2.test
			}
			hms_application %s %s
			huawei_token_url %s
		}
	}
}
`, harness.TokenPath, both, harness.HMSAppID, harness.HMSAppSecret, emu.URL)
	tester := harness.StartCaddy(t, site)
	for as, want := range map[string]int{"/as1": http.StatusOK, "/as2": http.StatusOK, "/as3": http.StatusUnauthorized} {
		tok := harness.PostForm(t, tester.Client, harness.Base+as, harness.ClientCredentials(sinchauth.HuaweiPushScope).Encode()).WantToken(t)
		form := url.Values{"grant_type": {"client_credentials"}, "hms_application_id": {harness.HMSAppID}}
		a := harness.PostForm(t, tester.Client, harness.TokenURL, form.Encode(), "Authorization", "Bearer "+tok)
		if a.Status != want {
			t.Errorf("token of %s: %d %s, want %d", as, a.Status, a.Raw, want)
		}
		if want != http.StatusOK && !strings.Contains(a.Raw, "iss") {
			t.Errorf("token of %s refused for another reason than its iss: %s", as, a.Raw)
		}
	}
}
