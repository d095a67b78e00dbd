package hms

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// The tests in this file drive a real, in-process Caddy over HTTP, the way
// Sinch does, against the Huawei token endpoint emulator. They share one
// Caddy, so they do not run in parallel.

func TestTokenAnswerAndCacheReuse(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))

	first := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode())
	tok := first.WantToken(t)
	issued := emu.IssuedTokens(harness.HMSAppID)
	if len(issued) != 1 || issued[0] != tok {
		t.Fatalf("answered token is not the one Huawei issued (issued %d tokens)", len(issued))
	}
	if !strings.ContainsAny(tok, "+/=") {
		t.Errorf("emulator token should hold +/= to prove they pass intact")
	}
	if ei := first.ExpiresIn(t); ei < 3590 || ei > 3600 {
		t.Errorf("expires_in = %d, want about 3600", ei)
	}

	second := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode())
	if got := second.WantToken(t); got != tok {
		t.Errorf("second answer has another token; want the cached one")
	}
	if n := emu.Calls(); n != 1 {
		t.Errorf("Huawei called %d times for two requests, want 1 (cache reuse)", n)
	}
}

func TestConcurrentColdRequestsCallHuaweiOnce(t *testing.T) {
	emu := harness.NewHuawei(t)
	emu.SetDelay(200 * time.Millisecond) // keep the fetch in flight while the others arrive
	harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))

	const n = 200
	assertions := make([]string, n)
	for i := range assertions {
		assertions[i] = harness.Mint(t)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	tokens := make([]string, n)
	statuses := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a := harness.PostForm(t, client, harness.TokenURL, harness.AssertionForm(assertions[i]).Encode())
			statuses[i] = a.Status
			tokens[i], _ = a.Body["access_token"].(string)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if statuses[i] != http.StatusOK || tokens[i] != tokens[0] || tokens[i] == "" {
			t.Fatalf("request %d: status %d; all %d must get the same token", i, statuses[i], n)
		}
	}
	if c := emu.Calls(); c != 1 {
		t.Errorf("%d concurrent cold requests made %d Huawei calls, want exactly 1", n, c)
	}
}

func TestRequestErrors(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	good := func() url.Values { return harness.AssertionForm(harness.Mint(t)) }
	with := func(mod func(url.Values)) string {
		v := good()
		mod(v)
		return v.Encode()
	}

	t.Run("not POST", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, harness.TokenURL, nil)
		a := harness.Do(t, tester.Client, req)
		a.WantError(t, http.StatusMethodNotAllowed, "invalid_request")
		if allow := a.Header.Get("Allow"); allow != "POST" {
			t.Errorf("Allow = %q, want POST", allow)
		}
	})
	t.Run("not form-encoded", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, harness.TokenURL, strings.NewReader(`{"grant_type":"client_credentials"}`))
		req.Header.Set("Content-Type", "application/json")
		harness.Do(t, tester.Client, req).WantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("body too large", func(t *testing.T) {
		body := good().Encode() + "&pad=" + strings.Repeat("x", 70<<10)
		a := harness.PostForm(t, tester.Client, harness.TokenURL, body)
		a.WantError(t, http.StatusRequestEntityTooLarge, "invalid_request")
	})
	t.Run("repeated parameter", func(t *testing.T) {
		body := good().Encode() + "&grant_type=client_credentials"
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("missing grant_type", func(t *testing.T) {
		body := with(func(v url.Values) { v.Del("grant_type") })
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("wrong grant_type", func(t *testing.T) {
		body := with(func(v url.Values) { v.Set("grant_type", "password") })
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusBadRequest, "unsupported_grant_type")
	})
	t.Run("no credential", func(t *testing.T) {
		body := "grant_type=client_credentials"
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("wrong client_assertion_type", func(t *testing.T) {
		body := with(func(v url.Values) {
			v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		})
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("missing client_assertion", func(t *testing.T) {
		body := with(func(v url.Values) { v.Del("client_assertion") })
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("assertion and bearer", func(t *testing.T) {
		a := harness.PostForm(t, tester.Client, harness.TokenURL, good().Encode(), "Authorization", "Bearer abc.def.ghi")
		a.WantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("bearer without Alt A configured", func(t *testing.T) {
		a := harness.PostForm(t, tester.Client, harness.TokenURL, "grant_type=client_credentials&hms_application_id="+harness.HMSAppID,
			"Authorization", "Bearer abc.def.ghi")
		a.WantError(t, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("wrong scope parameter", func(t *testing.T) {
		body := with(func(v url.Values) { v.Set("scope", "https://www.googleapis.com/auth/firebase.messaging") })
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusBadRequest, "invalid_scope")
	})
	t.Run("no scope parameter is fine", func(t *testing.T) {
		body := with(func(v url.Values) { v.Del("scope") })
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantToken(t)
	})
	t.Run("client_id parameter is ignored", func(t *testing.T) {
		body := with(func(v url.Values) { v.Set("client_id", "whatever") })
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantToken(t)
	})
	t.Run("unconfigured HMS application", func(t *testing.T) {
		body := harness.AssertionForm(harness.Mint(t, func(p *sinchauth.MintParams) { p.HMSApplicationID = "987654321" })).Encode()
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusBadRequest, "unauthorized_client")
	})
	t.Run("wrong secret", func(t *testing.T) {
		other, _ := sinchauth.DecodeSecret(harness.OtherSecret)
		body := harness.AssertionForm(harness.Mint(t, func(p *sinchauth.MintParams) { p.Secret = other })).Encode()
		a := harness.PostForm(t, tester.Client, harness.TokenURL, body)
		a.WantError(t, http.StatusUnauthorized, "invalid_client")
		if !strings.Contains(a.Raw, "signature") {
			t.Errorf("description should name the failed check: %s", a.Raw)
		}
	})
	t.Run("wrong audience", func(t *testing.T) {
		body := harness.AssertionForm(harness.Mint(t, func(p *sinchauth.MintParams) { p.Audience = "https://evil.example/token" })).Encode()
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("expired", func(t *testing.T) {
		body := harness.AssertionForm(harness.Mint(t, func(p *sinchauth.MintParams) { p.IssuedAt = time.Now().Add(-20 * time.Minute) })).Encode()
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("replayed nonce", func(t *testing.T) {
		body := good().Encode()
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantToken(t)
		a := harness.PostForm(t, tester.Client, harness.TokenURL, body)
		a.WantError(t, http.StatusUnauthorized, "invalid_client")
		if !strings.Contains(a.Raw, "replay") {
			t.Errorf("description should say replay: %s", a.Raw)
		}
	})
	t.Run("garbage assertion", func(t *testing.T) {
		body := with(func(v url.Values) { v.Set("client_assertion", "not.a.jwt") })
		harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusUnauthorized, "invalid_client")
	})
}

// TestNoSecretInAnswers checks that no error answer echoes the assertion,
// a secret or the Huawei token.
func TestNoSecretInAnswers(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	assertion := harness.Mint(t, func(p *sinchauth.MintParams) { p.Audience = "https://elsewhere.example/" })
	a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(assertion).Encode())
	a.WantError(t, http.StatusUnauthorized, "invalid_client")
	sig := assertion[strings.LastIndex(assertion, ".")+1:]
	for _, secret := range []string{assertion, sig, harness.SinchSecret, harness.HMSAppSecret} {
		if strings.Contains(a.Raw, secret) {
			t.Errorf("error answer contains a secret or the assertion: %s", a.Raw)
		}
	}
}

func TestHuaweiFailures(t *testing.T) {
	t.Run("Huawei 500 gives 503 with Retry-After", func(t *testing.T) {
		emu := harness.NewHuawei(t)
		emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 500, Body: "oops"})
		tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
		a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode())
		a.WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
		if a.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After on 503")
		}
	})
	t.Run("Huawei throttling gives 503", func(t *testing.T) {
		emu := harness.NewHuawei(t)
		emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultThrottle, RetryAfter: 30 * time.Second})
		tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
		a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode())
		a.WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
		if ra := a.Header.Get("Retry-After"); ra != "30" {
			t.Errorf("Retry-After = %q, want Huawei's 30", ra)
		}
	})
	t.Run("Huawei unreachable gives 503", func(t *testing.T) {
		emu := harness.NewHuawei(t)
		deadURL := emu.URL
		emu.Close()
		tester := harness.StartCaddy(t, harness.HMSSite(deadURL, ""))
		a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode())
		a.WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	})
	t.Run("Huawei rejecting the App secret gives 502", func(t *testing.T) {
		emu := huaweitest.NewServer()
		t.Cleanup(emu.Close)
		emu.AddApp(harness.HMSAppID, "another-secret")
		tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
		a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode())
		a.WantError(t, http.StatusBadGateway, "server_error")
		if strings.Contains(a.Raw, harness.HMSAppSecret) {
			t.Errorf("answer leaks the HMS secret: %s", a.Raw)
		}
	})
	t.Run("cached token served while Huawei is down", func(t *testing.T) {
		clk := harness.UseTestClock(t)
		emu := harness.NewHuawei(t)
		tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
		tok := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, harness.IssuedAt(clk))).Encode()).WantToken(t)
		clk.Advance(56 * time.Minute) // 4m left, within refresh_before: a refresh is tried
		emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 503, Body: "down"})
		a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, harness.IssuedAt(clk))).Encode())
		if got := a.WantToken(t); got != tok {
			t.Errorf("want the still-valid cached token while Huawei is down")
		}
		if ei := a.ExpiresIn(t); ei > 240 || ei < 200 {
			t.Errorf("expires_in = %d, want the old token's remaining life", ei)
		}
		if emu.Calls() < 2 {
			t.Errorf("a refresh should have been tried (calls = %d)", emu.Calls())
		}
	})
}

func TestCacheSurvivesReload(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	tok := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)

	// A reload with another, unrelated change keeps the cache.
	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, "clock_skew 30s"))
	if got := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t); got != tok {
		t.Errorf("token changed across a reload")
	}
	if n := emu.Calls(); n != 1 {
		t.Errorf("Huawei called %d times across a reload, want 1", n)
	}
}

func TestReplayRejectedAcrossReload(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	body := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, harness.TokenURL, body).WantToken(t)
	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, "clock_skew 30s"))
	harness.PostForm(t, tester.Client, harness.TokenURL, body).WantError(t, http.StatusUnauthorized, "invalid_client")
}
