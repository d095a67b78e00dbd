package endpoint

import (
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

func TestLabelIsBounded(t *testing.T) {
	for _, tc := range []struct{ reason, want string }{
		{"bad_signature", "bad_signature"},
		{HuaweiUnavailable.Reason, HuaweiUnavailable.Reason},
		{"", Other.Reason},
		{"nonce-1234 from a request", Other.Reason},
	} {
		if got := label(&oauthresp.Error{Reason: tc.reason}); got != tc.want {
			t.Errorf("label(%q) = %q, want %q", tc.reason, got, tc.want)
		}
	}
}
