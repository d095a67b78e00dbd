// Package hmsupstream is the Huawei (HMS) OAuth 2.0 client-credentials
// client: it turns an HMS App ID and App secret into an access token. It
// knows nothing of Sinch or Caddy; caching is tokencache's job.
package hmsupstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hmsgate/caddy-sinch-hms/internal/httpclient"
	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// DefaultTokenURL is Huawei's OAuth 2.0 token endpoint.
const DefaultTokenURL = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"

// DefaultTimeout bounds one HTTP exchange when Client.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// maxAnswer is the most of Huawei's answer that is read.
const maxAnswer = 64 << 10

// maxExpiresIn rejects absurd lifetimes (and time.Duration overflow).
const maxExpiresIn = 10 * 365 * 24 * 3600

// maxRetryAfter caps a Retry-After hint.
const maxRetryAfter = 24 * time.Hour

// Credentials identify one HMS application.
type Credentials struct {
	AppID, AppSecret string
}

// Client fetches tokens from Huawei. The zero value is ready to use.
type Client struct {
	TokenURL string // "" = DefaultTokenURL
	// HTTPClient: nil = a client with Timeout. Either way a copy is used
	// that follows no redirect (a redirect would re-send the secret
	// elsewhere): a 3xx is an upstream failure, as a 5xx.
	HTTPClient *http.Client
	Timeout    time.Duration    // bound on one HTTP exchange; default 5s
	Now        func() time.Time // nil = time.Now
	// Retry bounds the attempts of FetchTokenRetrying (and so of Fetcher).
	Retry RetryPolicy
	// OnRetry, if set, is told of each failed attempt that will be retried
	// after wait: for logs. err never holds the secret or a token.
	OnRetry func(appID string, attempt int, err error, wait time.Duration)
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return httpclient.NoRedirects(c.HTTPClient)
	}
	return httpclient.NoRedirects(&http.Client{Timeout: c.timeout()})
}

// Fetcher adapts one application's credentials to tokencache.Fetcher. It
// fetches with FetchTokenRetrying.
func (c *Client) Fetcher(cred Credentials) tokencache.Fetcher {
	return tokencache.FetcherFunc(func(ctx context.Context) (tokencache.Token, error) {
		return c.FetchTokenRetrying(ctx, cred)
	})
}

// FetchToken makes one token request to Huawei for cred (a single attempt;
// retries belong to a caller wrapping it). Every error is a
// *tokencache.UpstreamError: KindRejected when Huawei refuses the
// credentials (HTTP 400/401/403, or another 4xx a retry will not fix),
// KindUnavailable for throttling (429/503, with RetryAfter), other 5xx,
// network errors, timeouts and malformed answers. No error mentions the app
// secret or an access token.
func (c *Client) FetchToken(ctx context.Context, cred Credentials) (tokencache.Token, error) {
	tok, err := c.fetchToken(ctx, cred)
	if err != nil {
		return tokencache.Token{}, redact(err, cred.AppSecret)
	}
	return tok, nil
}

func (c *Client) fetchToken(ctx context.Context, cred Credentials) (tokencache.Token, error) {
	if cred.AppID == "" || cred.AppSecret == "" {
		return tokencache.Token{}, &tokencache.UpstreamError{Kind: tokencache.KindRejected,
			Err: errors.New("hmsupstream: missing HMS App ID or App secret")}
	}
	tokenURL := c.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()

	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {cred.AppID},
		"client_secret": {cred.AppSecret},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form))
	if err != nil {
		// A bad TokenURL is a configuration error: retrying will not help.
		return tokencache.Token{}, &tokencache.UpstreamError{Kind: tokencache.KindRejected,
			Err: fmt.Errorf("hmsupstream: bad token URL: %w", err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	start := c.now() // the lifetime counts from before the request: conservative
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return tokencache.Token{}, &tokencache.UpstreamError{Kind: tokencache.KindUnavailable,
			Err: fmt.Errorf("hmsupstream: token request: %w", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return tokencache.Token{}, &tokencache.UpstreamError{Kind: tokencache.KindUnavailable, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("hmsupstream: reading answer: %w", err)}
	}
	tooLarge := len(body) > maxAnswer

	if resp.StatusCode == http.StatusOK {
		if tooLarge {
			return tokencache.Token{}, unavailable(resp.StatusCode, "answer larger than 64 KiB")
		}
		return parseToken(body, start)
	}
	return tokencache.Token{}, statusError(resp, body, c.now())
}

// tokenAnswer is Huawei's success answer.
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	TokenType   string          `json:"token_type"`
}

func parseToken(body []byte, start time.Time) (tokencache.Token, error) {
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return tokencache.Token{}, unavailable(http.StatusOK, "malformed JSON answer: "+jsonErrorKind(err))
	}
	if a.AccessToken == "" {
		return tokencache.Token{}, unavailable(http.StatusOK, "answer has no access_token")
	}
	if a.TokenType != "" && !strings.EqualFold(a.TokenType, "Bearer") {
		return tokencache.Token{}, unavailable(http.StatusOK, "unexpected token_type "+quote.Text(a.TokenType, 20))
	}
	secs, ok := parseExpiresIn(a.ExpiresIn)
	if !ok {
		return tokencache.Token{}, unavailable(http.StatusOK, "answer has no valid expires_in")
	}
	return tokencache.Token{
		AccessToken: a.AccessToken,
		ExpiresAt:   start.Add(time.Duration(secs) * time.Second),
		FetchedAt:   start,
	}, nil
}

// parseExpiresIn accepts a positive number of seconds as a JSON number or a
// numeric string. A fraction is dropped.
func parseExpiresIn(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 1 || f > maxExpiresIn {
		return 0, false
	}
	return int64(f), true
}

// errorAnswer is Huawei's error answer; error and sub_error may be numbers
// or strings.
type errorAnswer struct {
	Error       json.RawMessage `json:"error"`
	SubError    json.RawMessage `json:"sub_error"`
	Description json.RawMessage `json:"error_description"`
}

func statusError(resp *http.Response, body []byte, now time.Time) error {
	ue := &tokencache.UpstreamError{StatusCode: resp.StatusCode}
	switch sc := resp.StatusCode; {
	case sc == http.StatusBadRequest, sc == http.StatusUnauthorized, sc == http.StatusForbidden:
		ue.Kind = tokencache.KindRejected
	case sc == http.StatusRequestTimeout, sc == http.StatusTooEarly, sc == http.StatusTooManyRequests, sc >= 500:
		ue.Kind = tokencache.KindUnavailable
	case sc >= 400:
		// 404, 405, 415...: a wrong token URL or a protocol mismatch;
		// retrying will not fix it.
		ue.Kind = tokencache.KindRejected
	default:
		// 1xx, a 2xx other than 200, an unfollowed 3xx.
		ue.Kind = tokencache.KindUnavailable
	}
	var a errorAnswer
	if json.Unmarshal(body, &a) == nil {
		code := errorCode(a.Error)
		if sub := errorCode(a.SubError); sub != "" {
			if code == "" {
				code = "?"
			}
			code += "/" + sub
		}
		ue.Code = code
		var desc string
		if json.Unmarshal(a.Description, &desc) == nil {
			ue.Description = quote.Clean(desc, 200)
		}
	}
	if ue.Code == "" && ue.Description == "" {
		ue.Err = fmt.Errorf("hmsupstream: unexpected answer %s", http.StatusText(resp.StatusCode))
	}
	ue.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return ue
}

// errorCode renders an error code given as a JSON number or string, keeping
// only characters a code is made of.
func errorCode(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
	}
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if r < utf8.RuneSelf && (r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

// parseRetryAfter reads delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

func unavailable(status int, msg string) error {
	return &tokencache.UpstreamError{Kind: tokencache.KindUnavailable, StatusCode: status,
		Err: errors.New("hmsupstream: " + msg)}
}

// jsonErrorKind describes a JSON decoding error without quoting the input.
func jsonErrorKind(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te) && te.Field == "":
		return "not a JSON object"
	case errors.As(err, &te):
		return "field " + strconv.Quote(te.Field) + " has the wrong type"
	}
	return "undecodable"
}

// redact is the last line of defence: should anything in the error (an
// upstream's echo, a transport message) contain the secret, raw or
// form-encoded, it is removed.
func redact(err error, secret string) error {
	var ue *tokencache.UpstreamError
	if !errors.As(err, &ue) {
		ue = &tokencache.UpstreamError{Kind: tokencache.KindUnavailable, Err: err}
	}
	if secret == "" {
		return ue
	}
	forms := []string{secret}
	if q := url.QueryEscape(secret); q != secret {
		forms = append(forms, q)
	}
	scrub := func(s string) string {
		for _, f := range forms {
			s = strings.ReplaceAll(s, f, "[redacted]")
		}
		return s
	}
	if scrub(ue.Error()) == ue.Error() {
		return ue
	}
	ue.Code = scrub(ue.Code)
	ue.Description = scrub(ue.Description)
	if ue.Err != nil {
		if msg := ue.Err.Error(); scrub(msg) != msg {
			var cause error
			switch {
			case errors.Is(ue.Err, context.DeadlineExceeded):
				cause = context.DeadlineExceeded
			case errors.Is(ue.Err, context.Canceled):
				cause = context.Canceled
			}
			ue.Err = redactedError{msg: scrub(msg), cause: cause}
		}
	}
	return ue
}

// redactedError replaces an error whose text held a secret. It keeps only a
// context cause in its chain, so nothing can print the original text.
type redactedError struct {
	msg   string
	cause error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.cause }
