package oauthserver

import (
	"net/http"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// FuzzExchange throws arbitrary form bodies and Authorization headers at
// the token endpoint: it must never panic, never grant without the right
// secret, and refuse only with the errors RFC 6749 §5.2 lists.
func FuzzExchange(f *testing.F) {
	for _, seed := range []struct{ body, auth string }{
		{"grant_type=client_credentials&client_id=sinch&client_secret=x", ""},
		{"grant_type=client_credentials", basic(testClientID, "nope")},
		{"grant_type=client_credentials&scope=a+b", "Basic Og=="},
		{"grant_type=password", "Bearer x"},
		{"client_id=&client_secret=", "basic %%%"},
	} {
		f.Add(seed.body, seed.auth)
	}
	s, _ := newTestServer(f)
	allowed := map[string]bool{
		oauthresp.ErrInvalidRequest: true, oauthresp.ErrInvalidClient: true,
		oauthresp.ErrUnsupportedGrantType: true, oauthresp.ErrInvalidScope: true,
	}
	f.Fuzz(func(t *testing.T, body, auth string) {
		form, oerr := oauthresp.ParseFormBody(body)
		if oerr != nil {
			return
		}
		iss, oerr := s.Exchange(form, auth, testIssuer, testAud)
		if oerr != nil {
			if !allowed[oerr.Code] || (oerr.Status != http.StatusBadRequest && oerr.Status != http.StatusUnauthorized) {
				t.Fatalf("refused with %d %s", oerr.Status, oerr.Code)
			}
			return
		}
		// Granted: the fuzzer must have found a real client's secret.
		if iss.ClientID == testClientID && form.Get("client_secret") != testSecret && iss.Method == MethodSecretPost {
			t.Fatalf("granted %s without its secret", iss.ClientID)
		}
		if iss.ClientID != testClientID && iss.ClientID != "other" {
			t.Fatalf("granted unknown client %q", iss.ClientID)
		}
	})
}
