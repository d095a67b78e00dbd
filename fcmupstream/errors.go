package fcmupstream

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/hmsgate/caddy-sinch-hms/internal/httpclient"
	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// maxRetryAfter caps a Retry-After hint from Google.
const maxRetryAfter = time.Hour

// classify maps an error of the google/jwt token source to a
// *tokencache.UpstreamError. An answer of Google's keeps its status, error
// code and description (Google's descriptions name no secret), not the raw
// body, so nothing a proxy echoes leaks into logs. A transport error names
// the token URL at most: the signed grant travels in the body.
func classify(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return &tokencache.UpstreamError{Kind: tokencache.KindUnavailable,
			Err: fmt.Errorf("fcmupstream: token request failed: %w", err)}
	}
	status := re.Response.StatusCode
	code, desc := errorBody(re.Body)
	ue := &tokencache.UpstreamError{
		Kind:        tokencache.KindRejected,
		StatusCode:  status,
		Code:        code,
		Description: desc,
		Err:         fmt.Errorf("fcmupstream: Google answered HTTP %d", status),
	}
	// An unfollowed redirect is no answer of Google's: as a 5xx.
	if status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout ||
		httpclient.IsRedirect(status) {
		ue.Kind = tokencache.KindUnavailable
		ue.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"))
	}
	return ue
}

// errorBody reads Google's {"error": ..., "error_description": ...}.
func errorBody(body []byte) (string, string) {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return quote.Clean(e.Error, 64), quote.Clean(e.Description, 200)
}

func retryAfter(v string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, maxRetryAfter)
}

// checkPrivateKey parses the key the way x/oauth2 will, at provisioning
// time, so a broken key file fails the config load rather than every
// token request.
func checkPrivateKey(pemKey []byte) error {
	der := pemKey
	if block, _ := pem.Decode(pemKey); block != nil {
		der = block.Bytes
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			return errors.New("fcmupstream: private_key is not a PKCS#8 or PKCS#1 RSA key")
		}
	}
	if _, ok := key.(*rsa.PrivateKey); !ok {
		return fmt.Errorf("fcmupstream: private_key is %T, want RSA", key)
	}
	return nil
}
