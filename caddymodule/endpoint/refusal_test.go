package endpoint

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
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

// The troubleshooting page has one row per refusal, whose first cell is the
// reason label and whose second starts with the refusal's status and OAuth
// error: a new refusal cannot be left out, nor its answer misdocumented.
func TestTroubleshootingTableCoversEveryRefusal(t *testing.T) {
	page, err := os.ReadFile("../../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	table := strings.SplitN(string(page), "\n| reason |", 2)
	if len(table) != 2 {
		t.Fatal("docs/troubleshooting.md has no table headed | reason |")
	}
	for _, line := range strings.Split(table[1], "\n") {
		cells := strings.Split(line, "|")
		if strings.TrimSpace(line) == "" {
			break // the end of the table
		}
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
	}
	for _, r := range All() {
		seen, ok := rows[r.Reason]
		if !ok {
			t.Errorf("docs/troubleshooting.md has no row for %q (%d %s)", r.Reason, r.Status, r.Code)
			continue
		}
		if want := fmt.Sprintf("%d %s", r.Status, r.Code); !strings.HasPrefix(seen, want) {
			t.Errorf("docs/troubleshooting.md: %q is answered %q, the row says %q", r.Reason, want, seen)
		}
		delete(rows, r.Reason)
	}
	for reason := range rows {
		t.Errorf("docs/troubleshooting.md documents %q, which is no refusal of the table", reason)
	}
}

// Every reason the plain-Go checks can give has its place in the table.
func TestTableHoldsThePlainGoReasons(t *testing.T) {
	for _, r := range sinchauth.Reasons() {
		if _, ok := Lookup(string(r)); !ok {
			t.Errorf("sinchauth reason %q is not in the table", r)
		}
	}
	for _, r := range bearerauth.Reasons() {
		if _, ok := Lookup(bearerPrefix + string(r)); !ok {
			t.Errorf("bearerauth reason %q is not in the table", r)
		}
	}
	for _, r := range oauthserver.Reasons() {
		got, ok := Lookup(string(r.Reason))
		if !ok || got.Status != r.Status || got.Code != r.Code {
			t.Errorf("oauthserver refusal %+v is %+v in the table", r, got)
		}
	}
}
