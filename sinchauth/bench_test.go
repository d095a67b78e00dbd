package sinchauth

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// benchTokens pre-mints n valid assertions with distinct nonces, so the
// measured loop is validation only.
func benchTokens(b *testing.B, n int) []string {
	toks := make([]string, n)
	for i := range toks {
		tok, err := Mint(MintParams{ApplicationKey: testAppKey, Secret: testSecret, HMSApplicationID: testHMSApp,
			Audience: testAudience, IssuedAt: testNow, Lifetime: 10 * time.Minute, Nonce: "bench-" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = tok
	}
	return toks
}

// BenchmarkValidate is the full check, replay claim included, one unique
// nonce per iteration.
func BenchmarkValidate(b *testing.B) {
	const pool = 1 << 16
	toks := benchTokens(b, pool)
	clock := func() time.Time { return testNow }
	newV := func() *Validator {
		v, err := NewValidator(Config{
			Applications:    map[string][][]byte{testAppKey: {testSecret}},
			HMSApplications: map[string]bool{testHMSApp: true},
			ClockSkew:       testSkew, MaxLifetime: testLifetime,
			Replay: NewMemoryReplayStore(clock), Now: clock,
		})
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	v := newV()
	aud := []string{testAudience}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == pool { // every nonce used: start over with an empty store
			b.StopTimer()
			v, i = newV(), 0
			b.StartTimer()
		}
		if _, err := v.Validate(ctx, toks[i], aud); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGolangJWTBaseline is a bare golang-jwt HS256 parse of the same
// kind of token with the derived key: the floor Validate builds on.
func BenchmarkGolangJWTBaseline(b *testing.B) {
	tok := benchTokens(b, 1)[0]
	key := DeriveSigningKey(testSecret, testNow.Format(dayLayout))
	p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(tok, keyFunc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeriveSigningKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		DeriveSigningKey(testSecret, "20240310")
	}
}

// BenchmarkReplayClaim measures a Claim at a steady number of live nonces:
// the clock advances one step per claim and each nonce lives `live` steps, so
// every claim also forgets one. bytes/nonce is the heap cost of filling.
func BenchmarkReplayClaim(b *testing.B) {
	for _, live := range []int{1e3, 1e5} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			perNonce := measureBytesPerNonce(live)
			const step = time.Millisecond
			now := testNow
			s := NewMemoryReplayStore(func() time.Time { return now })
			ctx := context.Background()
			ttl := time.Duration(live) * step
			for i := range live {
				s.Claim(ctx, testAppKey, "fill-"+strconv.Itoa(i), now.Add(ttl))
				now = now.Add(step)
			}
			// More distinct nonces than can be live at once, so none repeats
			// while still remembered; no allocation in the loop.
			nonces := make([]string, 1<<18)
			for i := range nonces {
				nonces[i] = "n-" + strconv.Itoa(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Claim(ctx, testAppKey, nonces[i&(len(nonces)-1)], now.Add(ttl))
				now = now.Add(step)
				i++
			}
			b.StopTimer()
			b.ReportMetric(perNonce, "bytes/nonce") // after the loop: b.Loop's timer reset drops earlier metrics
			if n := s.Len(); n > live+1 {
				b.Fatalf("live nonces %d, want <= %d", n, live+1)
			}
		})
	}
}
