package oauthserver

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"

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
	tokenServer := newTokenServer(f, authlimit.Unlimited{}, nil)
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
		// Token decides alike (its limiter allows everything here).
		iss2, oerr2 := tokenServer.Token(context.Background(), TokenRequest{Form: form, Authorization: auth, Addr: "192.0.2.1:1"})
		if (oerr == nil) != (oerr2 == nil) || (oerr != nil && (oerr.Status != oerr2.Status || oerr.Code != oerr2.Code || oerr.Reason != oerr2.Reason)) {
			t.Fatalf("Exchange: %v; Token: %v", oerr, oerr2)
		}
		if oerr2 != nil && !slices.ContainsFunc(Reasons(), func(r Refusal) bool { return string(r.Reason) == oerr2.Reason }) {
			t.Fatalf("reason %q is not in Reasons()", oerr2.Reason)
		}
		if iss2 != nil && iss != nil && iss2.ClientID != iss.ClientID {
			t.Fatalf("Token granted %s, Exchange %s", iss2.ClientID, iss.ClientID)
		}
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
