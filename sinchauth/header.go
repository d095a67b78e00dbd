package sinchauth

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// Header and payload names Sinch uses for the application key.
const (
	headerAlg    = "alg"
	headerCrit   = "crit"
	headerKeyID  = "kid"
	claimAppKey  = "sinch:rtc:application_key"
	algorithm    = "HS256"
	maxKidDayGap = 1 // |kid date - UTC date of iat|, in days
)

// joseHeader is what an assertion's JOSE header establishes once it passed
// every header check: the configured application it names and the kid that
// selects the day of the signing key.
type joseHeader struct {
	app    *application
	kid    keyID
	rawKid string
}

// header returns the checked header of the segment seg. A segment seen
// before on an assertion whose signature verified comes from the cache (see
// headerCache); cached reports that, so that the caller remembers a new
// header only once its signature has verified.
func (v *Validator) header(seg string) (h *joseHeader, cached bool, rej *Error) {
	if h := v.headers.get(seg); h != nil {
		return h, true, nil
	}
	h, rej = v.decodeHeader(seg)
	return h, false, rej
}

// decodeHeader decodes a header segment (strict base64url, golang-jwt's
// strict decoding) and runs the checks that must precede signature
// verification, because they choose the key.
func (v *Validator) decodeHeader(seg string) (*joseHeader, *Error) {
	raw, err := v.parser.DecodeSegment(seg)
	if err != nil {
		return nil, reject(ReasonMalformed, "JOSE header is not strictly encoded base64url")
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil || h == nil {
		return nil, reject(ReasonMalformed, "JOSE header is not a JSON object")
	}
	hdr, rej := v.checkHeader(h)
	if rej != nil {
		rej.Claimed.ApplicationKey = printableCut(h[claimAppKey])
	}
	return hdr, rej
}

// checkHeader checks a decoded header.
func (v *Validator) checkHeader(h map[string]any) (*joseHeader, *Error) {
	if alg, _ := h[headerAlg].(string); alg != algorithm {
		return nil, reject(ReasonAlgorithm, "alg must be HS256")
	}
	// golang-jwt ignores crit; RFC 7515 says a recipient that does not
	// understand a listed extension must reject, and we understand none.
	if _, ok := h[headerCrit]; ok {
		return nil, reject(ReasonCritHeader, "crit header is not supported")
	}
	app, rej := v.headerApplication(h)
	if rej != nil {
		return nil, rej
	}
	rawKid, _ := h[headerKeyID].(string)
	kid, ok := parseKeyID(rawKid)
	if !ok {
		return nil, reject(ReasonKeyID, "kid "+quote.Text(rawKid, maxQuoted)+" is not hkdfv1-YYYYMMDD")
	}
	return &joseHeader{app: app, kid: kid, rawKid: rawKid}, nil
}

// headerApplication resolves the header's sinch:rtc:application_key to a
// configured application.
func (v *Validator) headerApplication(h map[string]any) (*application, *Error) {
	key, ok := h[claimAppKey].(string)
	if !ok {
		return nil, reject(ReasonUnknownApp, "header sinch:rtc:application_key is missing or not a string")
	}
	app, ok := v.apps[key]
	if !ok {
		return nil, reject(ReasonUnknownApp, "application key "+quote.Text(key, maxQuoted)+" is not configured")
	}
	return app, nil
}

// checkKeyDay reads iat and compares the kid's date with its UTC date: a
// key derived for another day is refused even if it verifies, so a derived
// key that leaks stops being useful after a day. It returns iat for the
// time checks that follow.
func checkKeyDay(h *joseHeader, p *payload) (time.Time, *Error) {
	iat, _, ok := numericDate(p.Iat)
	if !ok {
		return iat, reject(ReasonMissingClaim, "iat is missing or not a NumericDate")
	}
	if gap := abs64(h.kid.date - epochDay(iat)); gap > maxKidDayGap {
		return iat, reject(ReasonKeyID, "kid "+quote.Text(h.rawKid, maxQuoted)+" is "+strconv.FormatInt(gap, 10)+
			" days from iat's UTC date "+iat.Format(dayLayout))
	}
	return iat, nil
}

// maxCachedHeaders bounds the header cache. Sinch signs every assertion of
// one application and day with the same header, so a handful of entries
// serve all traffic; the bound only matters against a key holder.
const maxCachedHeaders = 32

// headerCache maps a header segment, exactly as sent, to its checked
// header, so that the JSON of a header already seen is not decoded again
// on every request. Only headers of assertions whose signature verified go
// in, so an anonymous caller cannot add entries; strict decoding gives a
// header one spelling, so the exact segment is a sound key. Readers are
// lock-free: a published map is never mutated.
type headerCache struct {
	mu      sync.Mutex // serialises writers
	headers atomic.Pointer[map[string]*joseHeader]
}

func (c *headerCache) get(seg string) *joseHeader {
	if m := c.headers.Load(); m != nil {
		return (*m)[seg]
	}
	return nil
}

// remember publishes a copy of the cache with seg added; a full cache
// starts over with seg alone (yesterday's headers are the ones that go).
func (c *headerCache) remember(seg string, h *joseHeader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := map[string]*joseHeader{strings.Clone(seg): h} // not a slice of the whole assertion
	if old := c.headers.Load(); old != nil && len(*old) < maxCachedHeaders {
		for s, oh := range *old {
			next[s] = oh
		}
	}
	c.headers.Store(&next)
}
