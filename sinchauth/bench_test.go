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

// newBenchValidator is a validator on the fixed test clock with an empty
// memory replay store.
func newBenchValidator(b *testing.B) *Validator {
	clock := func() time.Time { return testNow }
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

// BenchmarkValidate is the full check, replay claim included, one unique
// nonce per iteration.
func BenchmarkValidate(b *testing.B) {
	const pool = 1 << 16
	toks := benchTokens(b, pool)
	newV := func() *Validator { return newBenchValidator(b) }
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

// BenchmarkValidateVsBaseline interleaves the two above, one of each per
// iteration, and reports the ratio of their times: on a shared, noisy
// machine both see the same load, so the ratio holds where separate runs'
// ns/op do not.
func BenchmarkValidateVsBaseline(b *testing.B) {
	const pool = 1 << 16
	toks := benchTokens(b, pool)
	newV := func() *Validator { return newBenchValidator(b) }
	key := DeriveSigningKey(testSecret, testNow.Format(dayLayout))
	p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	v, aud, ctx := newV(), []string{testAudience}, context.Background()
	var validate, baseline time.Duration
	i := 0
	for b.Loop() {
		if i == pool {
			b.StopTimer()
			v, i = newV(), 0
			b.StartTimer()
		}
		t0 := time.Now()
		if _, err := v.Validate(ctx, toks[i], aud); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := p.Parse(toks[i], keyFunc); err != nil {
			b.Fatal(err)
		}
		validate, baseline = validate+t1.Sub(t0), baseline+time.Since(t1)
		i++
	}
	b.ReportMetric(float64(validate)/float64(baseline), "validate/baseline")
}

func BenchmarkDeriveSigningKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		DeriveSigningKey(testSecret, "20240310")
	}
}

// replayLives are the numbers of live nonces the replay store is measured
// at: a quiet endpoint, a busy one, and more than Sinch is likely to send
// within one assertion lifetime.
var replayLives = []int{1e3, 1e5, 1e6}

// maxBytesPerNonce is the memory budget of one live nonce.
const maxBytesPerNonce = 150

// BenchmarkReplayClaim measures inserting a new nonce at a steady number of
// live nonces: the clock advances one step per claim and each nonce lives
// `live` steps, so every claim also forgets one. bytes/nonce is the heap
// cost of a store filled with `live` nonces; above the budget the benchmark
// fails.
func BenchmarkReplayClaim(b *testing.B) {
	for _, live := range replayLives {
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
			// while still remembered (a nonce claimed at step k is forgotten
			// at step k+live); no allocation in the loop.
			nonces := distinctNonces(live + 1024)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if fresh, _ := s.Claim(ctx, testAppKey, nonces[i%len(nonces)], now.Add(ttl)); !fresh {
					b.Fatal("a new nonce was reported as replayed")
				}
				now = now.Add(step)
				i++
			}
			b.StopTimer()
			b.ReportMetric(perNonce, "bytes/nonce") // after the loop: b.Loop's timer reset drops earlier metrics
			if n := s.Len(); n > live+1 {
				b.Fatalf("live nonces %d, want <= %d", n, live+1)
			}
			if perNonce > maxBytesPerNonce {
				b.Errorf("%.1f bytes per live nonce, budget %d", perNonce, maxBytesPerNonce)
			}
		})
	}
}

// BenchmarkReplayLookup measures the replay check that refuses a nonce:
// a Claim of a nonce that is live among `live` others.
func BenchmarkReplayLookup(b *testing.B) {
	for _, live := range replayLives {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			s := NewMemoryReplayStore(func() time.Time { return testNow })
			ctx := context.Background()
			until := testNow.Add(time.Hour)
			nonces := distinctNonces(live)
			for _, n := range nonces {
				s.Claim(ctx, testAppKey, n, until)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if fresh, _ := s.Claim(ctx, testAppKey, nonces[i%live], until); fresh {
					b.Fatal("a live nonce was accepted again")
				}
				i++
			}
		})
	}
}

// distinctNonces returns n nonces shaped like Sinch's (36 bytes).
func distinctNonces(n int) []string {
	nonces := make([]string, n)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("%08x-bbbb-4ccc-8ddd-123456789abc", i)
	}
	return nonces
}
