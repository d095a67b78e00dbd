package oauthresp

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// tokenAnswer is the RFC 6749 §5.1 success body.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

// errorAnswer is the RFC 6749 §5.2 error body.
type errorAnswer struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// TokenBody encodes the success body for an access token with the given
// whole seconds of life left.
func TokenBody(accessToken string, expiresIn int64) ([]byte, error) {
	return json.Marshal(tokenAnswer{AccessToken: accessToken, ExpiresIn: expiresIn, TokenType: "Bearer"})
}

// ExpiresIn is the whole number of seconds left until expiresAt, never
// negative: what RFC 6749 expires_in means, rounded down so a caller never
// believes a token lives longer than it does.
func ExpiresIn(expiresAt, now time.Time) int64 {
	left := expiresAt.Sub(now).Seconds()
	if left <= 0 {
		return 0
	}
	return int64(math.Floor(left))
}

// WriteToken writes a 200 token answer with the no-store headers RFC 6749
// §5.1 requires.
func WriteToken(w http.ResponseWriter, accessToken string, expiresIn int64) error {
	body, err := TokenBody(accessToken, expiresIn)
	if err != nil {
		return err
	}
	return WriteTokenBody(w, body)
}

// WriteTokenBody writes an already encoded token answer.
func WriteTokenBody(w http.ResponseWriter, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// WriteError writes e as an RFC 6749 §5.2 JSON error answer.
func WriteError(w http.ResponseWriter, e *Error) error {
	body, err := json.Marshal(errorAnswer{Error: e.Code, Description: e.Description})
	if err != nil {
		return err
	}
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(e.RetryAfter.Seconds())), 10))
	}
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}
