package sinchauth

import (
	"strconv"
	"testing"
)

// TestKeysDerivedOncePerDay proves that validating many assertions derives
// each (application, secret, day) key once: later requests get the very
// same key slices back from the cache, and the cache is not rebuilt.
func TestKeysDerivedOncePerDay(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Applications[testAppKey] = [][]byte{testSecret, testSecret2} })
	withNonce := func(i int) string {
		return f.valid(func(_, p map[string]any) { p["nonce"] = "once-per-day-" + strconv.Itoa(i) })
	}
	f.expectOK(withNonce(0))
	app := f.v.apps[testAppKey]
	cache := app.keys.Load()
	if cache == nil || len(*cache) != 1 {
		t.Fatalf("derived-key cache = %v, want exactly today", cache)
	}
	kid, _ := parseKeyID(KeyID(f.now))
	first := app.signingKeys(kid, epochDay(f.now))
	for i := 1; i <= 5; i++ {
		f.expectOK(withNonce(i))
		again := app.signingKeys(kid, epochDay(f.now))
		for j := range first {
			if again[j] != first[j] {
				t.Fatalf("request %d: key of secret #%d derived again", i, j+1)
			}
		}
	}
	if app.keys.Load() != cache {
		t.Errorf("requests for a cached day rebuilt the cache")
	}
}
