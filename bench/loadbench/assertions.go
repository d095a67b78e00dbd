package main

import (
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// assertionLifetime covers the longest run (-timeout's default) with room.
const assertionLifetime = 10 * time.Minute

// mintBodies returns n token request bodies exactly as Sinch sends them,
// each with its own assertion and nonce, minted in parallel before any
// measurement so that minting costs the load generator nothing.
func mintBodies(secretBase64, audience string, n int) ([][]byte, error) {
	secret, err := sinchauth.DecodeSecret(secretBase64)
	if err != nil {
		return nil, err
	}
	bodies := make([][]byte, n)
	errs := make([]error, runtime.GOMAXPROCS(0))
	now := time.Now()
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < n; i += len(errs) {
				a, err := sinchauth.Mint(sinchauth.MintParams{
					ApplicationKey: appKey, Secret: secret, HMSApplicationID: hmsAppID,
					Audience: audience, IssuedAt: now, Lifetime: assertionLifetime,
					Nonce: fmt.Sprintf("loadbench-%d-%08d", now.UnixNano(), i),
				})
				if err != nil {
					errs[w] = err
					return
				}
				bodies[i] = []byte(url.Values{
					"grant_type":            {"client_credentials"},
					"scope":                 {sinchauth.HuaweiPushScope},
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion":      {a},
				}.Encode())
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("mint: %w", err)
		}
	}
	return bodies, nil
}

// emulatorTokenLen is the length of the huaweitest emulator's access
// tokens ("CF+/" and 31 random bytes in base64).
const emulatorTokenLen = 4 + 44

// sampleAnswer is a token answer of the same size as the token endpoint's
// during the run (expires_in has four digits for the first 45 minutes of a
// token's hour): `respond` answers it, so both routes send as many bytes.
func sampleAnswer() string {
	body, _ := oauthresp.TokenBody(strings.Repeat("x", emulatorTokenLen), 3599)
	return string(body)
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}
