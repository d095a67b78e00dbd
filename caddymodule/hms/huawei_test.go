package hms

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
)

// TestHuaweiFetchesLogged: every retried Huawei attempt is logged with the
// HMS App ID, and no log line holds the App secret or the token.
func TestHuaweiFetchesLogged(t *testing.T) {
	emu := harness.NewHuawei(t)
	core, logs := observer.New(zapcore.DebugLevel)
	h := &Handler{HuaweiTokenURL: emu.URL, RefreshBefore: caddy.Duration(time.Minute), now: time.Now, logger: zap.New(core), DisableMetrics: true}
	u, err := h.loadHuawei(harness.HMSAppID+"-logged", harness.HMSAppSecret)
	if err != nil {
		t.Fatal(err)
	}
	defer h.holds.Release()
	emu.AddApp(harness.HMSAppID+"-logged", harness.HMSAppSecret)
	res, err := u.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 500, Body: "echo " + harness.HMSAppSecret})
	u.Refresh(context.Background()) // fails after its retries; the old token stays

	// Each retried attempt is logged, and each finished fetch.
	want := map[string]int{"huawei token attempt failed; retrying": 2, "huawei token fetched": 1, "huawei token fetch failed": 1}
	got := map[string]int{}
	for _, e := range logs.All() {
		got[e.Message]++
		fields := e.ContextMap()
		if fields["hms_application_id"] != harness.HMSAppID+"-logged" {
			t.Errorf("%q: hms_application_id = %v", e.Message, fields["hms_application_id"])
		}
		line := e.Message + fmt.Sprint(fields)
		for _, secret := range []string{harness.HMSAppSecret, "hms%2Bsecret", res.Token.AccessToken} {
			if strings.Contains(line, secret) {
				t.Errorf("log line holds a secret or the token: %s", line)
			}
		}
	}
	for msg, n := range want {
		if got[msg] != n {
			t.Errorf("%q logged %d times, want %d (all: %v)", msg, got[msg], n, got)
		}
	}
}
