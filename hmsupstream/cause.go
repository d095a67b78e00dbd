package hmsupstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// CauseKind says why a token fetch failed, in the terms an operator
// troubleshoots with.
type CauseKind string

const (
	// CauseRefused: nothing listens at the token URL's host and port
	// (connection refused).
	CauseRefused CauseKind = "refused"
	// CauseTimeout: no answer in time, while connecting, in the TLS
	// handshake or waiting for the answer.
	CauseTimeout CauseKind = "timeout"
	// CauseDNS: the token URL's host name did not resolve.
	CauseDNS CauseKind = "dns"
	// CauseTLS: the TLS connection failed: the certificate is untrusted,
	// expired or for another name, or the server does not speak TLS.
	CauseTLS CauseKind = "tls"
	// CauseHTTP: Huawei answered, with an error status or an unusable
	// answer; StatusCode and Code say which.
	CauseHTTP CauseKind = "http"
	// CauseOther: anything else (connection reset or closed early, a
	// request that could not be made).
	CauseOther CauseKind = "other"
)

// Cause is a failed fetch, classified for an operator. CauseOf builds it
// from the types in the error chain (url.Error, net.OpError, net.DNSError,
// the tls and x509 errors, tokencache.UpstreamError), not from the error's
// text. It never holds a secret: the App secret travels only in the request
// body, which no error quotes; Host is host[:port] of the URL asked, without
// its path, query or user info; Detail is a fixed phrase, or the short text
// of a DNS, certificate or system error, which names hosts and reasons only.
type Cause struct {
	Kind       CauseKind
	Host       string // host[:port] the request went to; "" when the error does not say
	Detail     string // a few words: "connection refused", "no such host", "HTTP 400 Bad Request, error 1101/20173"...
	StatusCode int    // Huawei's HTTP status (CauseHTTP), else 0
	Code       string // Huawei's error/sub_error, e.g. "1101/20173" (CauseHTTP), else ""
}

// maxDetail bounds Cause.Detail.
const maxDetail = 200

// CauseOf classifies err, an error of FetchToken or FetchTokenRetrying (or
// of anything wrapping one). CauseOf(nil) is the zero Cause.
func CauseOf(err error) Cause {
	if err == nil {
		return Cause{}
	}
	c := Cause{Kind: CauseOther}
	var ue *url.Error
	if errors.As(err, &ue) {
		c.Host = HostOf(ue.URL)
	}
	var upstream *tokencache.UpstreamError
	hasUpstream := errors.As(err, &upstream)

	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case tlsDetail(err) != "":
		c.Kind, c.Detail = CauseTLS, tlsDetail(err)
	case errors.As(err, &dnsErr):
		c.Kind = CauseDNS
		switch {
		case dnsErr.IsNotFound:
			c.Detail = "no such host"
		case dnsErr.IsTimeout:
			c.Detail = "dns lookup timed out"
		default:
			c.Detail = "dns lookup failed: " + dnsErr.Err
		}
		if c.Host == "" {
			c.Host = dnsErr.Name
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		c.Kind, c.Detail = CauseRefused, "connection refused"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		c.Kind, c.Detail = CauseTimeout, "timed out waiting for the answer"
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			c.Detail = "timed out connecting"
		}
	case hasUpstream && upstream.StatusCode != 0:
		c.Kind, c.StatusCode, c.Code = CauseHTTP, upstream.StatusCode, upstream.Code
		c.Detail = httpDetail(upstream)
	default:
		c.Detail = otherDetail(err, ue != nil)
	}
	c.Detail = quote.Clean(c.Detail, maxDetail)
	return c
}

// HostOf returns host[:port] of rawURL, without scheme, user info, path or
// query; "" if rawURL does not parse.
func HostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// tlsDetail describes a TLS failure in err's chain, "" if there is none.
func tlsDetail(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &unknown):
		return "certificate signed by unknown authority"
	case errors.As(err, &hostname):
		return "certificate is not valid for " + hostname.Host
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return "certificate has expired or is not yet valid"
		}
		return "certificate is not valid: " + strings.TrimPrefix(invalid.Error(), "x509: ")
	case errors.As(err, &verify):
		return "certificate verification failed"
	case errors.As(err, &header):
		return "the server did not answer in TLS"
	case errors.As(err, &alert):
		return "the server refused the TLS handshake: " + strings.TrimPrefix(alert.Error(), "tls: ")
	}
	return ""
}

// httpDetail describes Huawei's error answer: status and codes.
func httpDetail(ue *tokencache.UpstreamError) string {
	d := "HTTP " + strconv.Itoa(ue.StatusCode)
	if text := http.StatusText(ue.StatusCode); text != "" {
		d += " " + text
	}
	if ue.Code != "" {
		d += ", error " + ue.Code
	}
	// A 200 that is not a token: say what was wrong with it (this
	// package's own words, which quote nothing of the answer but a
	// truncated token_type).
	if ue.StatusCode == http.StatusOK && ue.Err != nil {
		d += ": " + strings.TrimPrefix(ue.Err.Error(), "hmsupstream: ")
	}
	return d
}

// otherDetail describes a failure that is none of the named causes.
func otherDetail(err error, network bool) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	case errors.As(err, &errno):
		return errno.Error()
	case network:
		return "no answer (network error)"
	}
	return "no request sent or no answer (see the log's \"huawei token fetch failed\" line)"
}
