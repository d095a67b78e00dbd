package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

func TestQuantileNearestRank(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	for q, want := range map[float64]time.Duration{0.50: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond, 0: time.Millisecond} {
		if got := quantile(lat, q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
}

func TestSummarizeMergesOneRouteOnly(t *testing.T) {
	ms := func(ds ...int) []time.Duration {
		out := make([]time.Duration, len(ds))
		for i, d := range ds {
			out[i] = time.Duration(d) * time.Millisecond
		}
		return out
	}
	rounds := []round{
		{route: "a", elapsed: time.Second, lat: ms(1, 2, 3, 4)},
		{route: "b", elapsed: time.Second, lat: ms(100, 100)},
		{route: "a", elapsed: time.Second, lat: ms(5, 6, 7, 8)},
	}
	s := summarize("a", rounds)
	if s.requests != 8 || s.rps != 4 || s.p50 != 4*time.Millisecond || s.p99 != 8*time.Millisecond {
		t.Errorf("summary = %+v", s)
	}
	if len(s.perRounds) != 2 || s.perRounds[0] != 4 {
		t.Errorf("per-round req/s = %v", s.perRounds)
	}
}

// TestSampleAnswerIsAsLongAsTheRealOne proves that `respond` answers as
// many bytes as the token endpoint will: the emulator's tokens are
// emulatorTokenLen long, and the sample answer is the real encoding.
func TestSampleAnswerIsAsLongAsTheRealOne(t *testing.T) {
	emu := huaweitest.NewServer()
	defer emu.Close()
	emu.AddApp(hmsAppID, "s3cret")
	resp, err := http.PostForm(emu.URL, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {hmsAppID}, "client_secret": {"s3cret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	if len(tok.AccessToken) != emulatorTokenLen {
		t.Fatalf("emulator token is %d bytes, emulatorTokenLen says %d", len(tok.AccessToken), emulatorTokenLen)
	}
	want, _ := oauthresp.TokenBody(tok.AccessToken, 3599)
	if a := sampleAnswer(); len(a) != len(want) {
		t.Errorf("sample answer is %d bytes, the real one %d", len(a), len(want))
	}
}
