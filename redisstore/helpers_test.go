package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

func newClock() *testclock.Clock { return testclock.New(time.Now().Truncate(time.Millisecond)) }

// newClient is one "instance"'s own connection to srv.
func newClient(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	c, err := NewClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// upstream is a counting stand-in for Huawei: each call issues a new token
// valid for life from its clock's now.
type upstream struct {
	calls atomic.Int64
	now   func() time.Time
	life  time.Duration
	err   error
	gate  chan struct{} // if set, each call waits for it to close
}

func (u *upstream) Fetch(ctx context.Context) (tokencache.Token, error) {
	n := u.calls.Add(1)
	if u.gate != nil {
		select {
		case <-u.gate:
		case <-ctx.Done():
			return tokencache.Token{}, ctx.Err()
		}
	}
	if u.err != nil {
		return tokencache.Token{}, u.err
	}
	now := u.now()
	return tokencache.Token{
		AccessToken: "HMS+token/" + time.Duration(n).String() + "==",
		ExpiresAt:   now.Add(u.life),
		FetchedAt:   now,
	}, nil
}

// sharedFetcher is one instance's SharedFetcher on srv for the test app.
func sharedFetcher(t testing.TB, srv *redistest.Server, inner tokencache.Fetcher, now func() time.Time) *SharedFetcher {
	return &SharedFetcher{
		Client:  newClient(t, srv),
		Key:     TokenKey(DefaultPrefix, "123456789", "https://oauth.example/token"),
		EncKey:  DeriveKey("hms+secret/with=chars"),
		Inner:   inner,
		MinLife: 5 * time.Minute,
		Now:     now,
	}
}

const (
	testSinchSecret = "ax8hTTQJF0OPXL32r1LHMA=="
	testAudience    = "https://edge.example/token"
)

// validatorOn builds an Alt B validator on store, as one instance would.
func validatorOn(t testing.TB, store sinchauth.ReplayStore) *sinchauth.Validator {
	t.Helper()
	secret, err := sinchauth.DecodeSecret(testSinchSecret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sinchauth.NewValidator(sinchauth.Config{
		Applications:    map[string][][]byte{appKey: {secret}},
		HMSApplications: map[string]bool{"123456789": true},
		ClockSkew:       time.Minute,
		MaxLifetime:     time.Hour,
		Replay:          store,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mintAssertion mints a valid assertion for testAudience with nonce.
func mintAssertion(t testing.TB, nonce string) string {
	t.Helper()
	secret, _ := sinchauth.DecodeSecret(testSinchSecret)
	a, err := sinchauth.Mint(sinchauth.MintParams{
		ApplicationKey: appKey, Secret: secret, HMSApplicationID: "123456789",
		Audience: testAudience, Lifetime: 5 * time.Minute, Nonce: nonce,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
