package bearerauth_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/bearerauth/astest"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
)

// FuzzVerifyJWT feeds arbitrary strings to the JWT verifier. Properties:
// it never panics; an accepted token carries a real EdDSA signature of the
// test key over its own signing input (nothing else gets through); and a
// rejection is an *Error with a known Reason whose text never echoes the
// token.
func FuzzVerifyJWT(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	key := astest.NewKey("k", "EdDSA")
	v := staticVerifier(f, key, now)
	good := astest.MintWith(key, goodClaims(now), nil)
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(hs256WithPublicKey(f, key, goodClaims(now)))
	f.Add(unsignedNone(f, goodClaims(now)))
	f.Add(astest.MintWith(key, goodClaims(now), map[string]any{"crit": []string{"b64"}}))
	f.Add(parts[0] + "." + parts[1] + "=." + parts[2])
	f.Add("e30.e30.")
	f.Add("")
	known := map[bearerauth.Reason]bool{}
	for _, r := range bearerauth.Reasons() {
		known[r] = true
	}
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(t.Context(), token)
		if err == nil {
			if p == nil {
				t.Fatal("nil principal without error")
			}
			i := strings.LastIndexByte(token, '.')
			sig, derr := base64.RawURLEncoding.Strict().DecodeString(token[i+1:])
			if derr != nil || !ed25519.Verify(pub, []byte(token[:i]), sig) {
				t.Fatalf("accepted a token without a valid signature: %q", token)
			}
			return
		}
		if !known[bearerauth.ReasonOf(err)] {
			t.Fatalf("error without a known reason: %v", err)
		}
		if len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Fatalf("error echoes the token")
		}
	})
}

func BenchmarkVerifyJWT(b *testing.B) {
	now := time.Now()
	for _, alg := range bearerauth.AllowedAlgorithms {
		b.Run(alg, func(b *testing.B) {
			key := astest.NewKey("k", alg)
			v := staticVerifier(b, key, now)
			tok := astest.MintWith(key, goodClaims(now), nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkIntrospectionCacheHit(b *testing.B) {
	as := newAS(b)
	c := testclock.New(time.Now())
	v := introspector(b, as, c, nil)
	tok := as.IssueOpaque(goodInfo(as, c.Now()))
	if _, err := v.Verify(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
