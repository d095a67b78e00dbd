package oauthresp

import "sync/atomic"

// TokenBodyCache remembers the last encoded success answer, so that the
// requests served from one cached token during one second share a single
// encoding instead of running the JSON encoder each time. expires_in
// counts down in whole seconds, so an entry is good for at most a second;
// holding only the last one keeps the cache at one entry, with no eviction
// to think about. Use one per access-token source (e.g. per HMS
// application) so that two sources do not keep replacing each other's
// entry. The zero value is ready to use and it is safe for concurrent use.
type TokenBodyCache struct {
	last atomic.Pointer[tokenBody]
}

// tokenBody is one immutable cache entry.
type tokenBody struct {
	accessToken string
	expiresIn   int64
	body        []byte
}

// Body returns the encoded success answer for accessToken with expiresIn
// seconds left, as TokenBody does. The returned slice is shared by every
// caller asking for the same answer: write it out, never modify it.
func (c *TokenBodyCache) Body(accessToken string, expiresIn int64) ([]byte, error) {
	if e := c.last.Load(); e != nil && e.expiresIn == expiresIn && e.accessToken == accessToken {
		return e.body, nil
	}
	body, err := TokenBody(accessToken, expiresIn)
	if err != nil {
		return nil, err
	}
	c.last.Store(&tokenBody{accessToken: accessToken, expiresIn: expiresIn, body: body})
	return body, nil
}
