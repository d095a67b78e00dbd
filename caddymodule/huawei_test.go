package caddymodule

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
)

// TestHuaweiFetchesLogged: every retried Huawei attempt is logged with the
// HMS App ID, and no log line holds the App secret or the token.
func TestHuaweiFetchesLogged(t *testing.T) {
	emu := newHuawei(t)
	core, logs := observer.New(zapcore.DebugLevel)
	p := newPooledTokenCache(hmsupstream.Credentials{AppID: testHMSAppID, AppSecret: testHMSAppSecret},
		emu.URL, time.Minute, time.Now, zap.New(core))
	defer p.Destruct()

	res, err := p.Get(context.Background(), testHMSAppID, p)
	if err != nil {
		t.Fatal(err)
	}
	p.Invalidate(testHMSAppID)
	emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 500, Body: "echo " + testHMSAppSecret})
	if _, err := p.Get(context.Background(), testHMSAppID, p); err == nil {
		t.Fatal("want a failure")
	}

	// The entry itself logs retried attempts (and pauses); each finished
	// fetch is logged by the config's instrumentedFetcher (TestLogs...).
	want := map[string]int{"huawei token attempt failed; retrying": 2}
	got := map[string]int{}
	for _, e := range logs.All() {
		got[e.Message]++
		fields := e.ContextMap()
		if fields["hms_application_id"] != testHMSAppID {
			t.Errorf("%q: hms_application_id = %v", e.Message, fields["hms_application_id"])
		}
		line := e.Message + fmt.Sprint(fields)
		for _, secret := range []string{testHMSAppSecret, "hms%2Bsecret", res.Token.AccessToken} {
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
