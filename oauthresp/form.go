package oauthresp

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// DefaultMaxBodyBytes bounds a token request body. Sinch's requests are
// about 1 KiB; 64 KiB leaves room and keeps a hostile body cheap.
const DefaultMaxBodyBytes = 64 << 10

// maxParams bounds the number of form parameters, so a body of many tiny
// parameters cannot cost more than a handful of map entries.
const maxParams = 32

// Form is a parsed token request body: each parameter at most once.
type Form map[string]string

// Get returns the value of a parameter, "" when absent.
func (f Form) Get(name string) string { return f[name] }

// Has reports whether a parameter was sent (even empty).
func (f Form) Has(name string) bool {
	_, ok := f[name]
	return ok
}

// ParseForm reads and strictly parses an application/x-www-form-urlencoded
// request body of at most maxBytes (DefaultMaxBodyBytes when 0), reading no
// more than maxBytes+1 bytes of it. RFC 6749 §3.2 says request and response
// parameters must not be included more than once, so a repeated parameter
// is an error, as are a wrong media type and malformed encoding. The URL
// query is ignored: credentials belong in the body.
func ParseForm(r *http.Request, maxBytes int64) (Form, *Error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	if e := checkContentType(r.Header.Get("Content-Type")); e != nil {
		return nil, e
	}
	if r.ContentLength > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	buf := getReadBuffer()
	defer putReadBuffer(buf)
	body, err := readBody(r, maxBytes+1, (*buf)[:0])
	*buf = body // keep a grown buffer for the next request
	if err != nil {
		return nil, NewError(http.StatusBadRequest, ErrInvalidRequest, "could not read the request body")
	}
	if int64(len(body)) > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	return ParseFormBody(string(body))
}

// readBuffers recycles the buffers request bodies are read into: the
// parsed form keeps only its own strings, so a buffer is free again as
// soon as ParseForm returns.
var readBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer is the largest buffer returned to readBuffers, so that
// one large body does not stay pinned in the pool.
const maxPooledBuffer = DefaultMaxBodyBytes + 1

func getReadBuffer() *[]byte { return readBuffers.Get().(*[]byte) }

func putReadBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		readBuffers.Put(b)
	}
}

// ParseFormBody parses an already read form body with the rules of
// ParseForm.
func ParseFormBody(body string) (Form, *Error) {
	form := make(Form, 8) // a token request has 3 to 5 parameters
	for pair := range strings.SplitSeq(body, "&") {
		if pair == "" {
			continue
		}
		if len(form) >= maxParams {
			return nil, NewError(http.StatusBadRequest, ErrInvalidRequest, "too many parameters")
		}
		name, value, err := decodePair(pair)
		if err != nil {
			return nil, NewError(http.StatusBadRequest, ErrInvalidRequest, "malformed form encoding")
		}
		if _, dup := form[name]; dup {
			return nil, NewError(http.StatusBadRequest, ErrInvalidRequest, "parameter %s repeated", quote.Text(name, 40))
		}
		form[name] = value
	}
	return form, nil
}

// Encode returns the form as an application/x-www-form-urlencoded body,
// for passing a request on.
func (f Form) Encode() string {
	v := make(url.Values, len(f))
	for k, s := range f {
		v.Set(k, s)
	}
	return v.Encode()
}

func decodePair(pair string) (string, string, error) {
	rawName, rawValue, _ := strings.Cut(pair, "=")
	name, err := queryUnescape(rawName)
	if err != nil {
		return "", "", err
	}
	if name == "" {
		return "", "", errors.New("empty parameter name")
	}
	value, err := queryUnescape(rawValue)
	if err != nil {
		return "", "", err
	}
	return name, value, nil
}

// queryUnescape is url.QueryUnescape, faster: text without '%' or '+' (the
// client assertion, most of the body) is returned as it is, found by two
// vectorised byte searches, and the runs between escapes are copied whole
// rather than byte by byte. FuzzQueryUnescape holds it to url.QueryUnescape.
func queryUnescape(s string) (string, error) {
	next := escapeIndex(s)
	if next < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for next >= 0 {
		b.WriteString(s[:next])
		if s[next] == '+' {
			b.WriteByte(' ')
			s = s[next+1:]
		} else {
			if next+2 >= len(s) || !isHex(s[next+1]) || !isHex(s[next+2]) {
				return "", errBadEscape
			}
			b.WriteByte(unhex(s[next+1])<<4 | unhex(s[next+2]))
			s = s[next+3:]
		}
		next = escapeIndex(s)
	}
	b.WriteString(s)
	return b.String(), nil
}

var errBadEscape = errors.New("invalid URL escape")

// escapeIndex returns the index of the first '%' or '+' in s, or -1.
func escapeIndex(s string) int {
	i, j := strings.IndexByte(s, '%'), strings.IndexByte(s, '+')
	switch {
	case i < 0:
		return j
	case j < 0:
		return i
	}
	return min(i, j)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// readBody appends at most limit bytes of the request body to buf (empty,
// usually from readBuffers). When the request declares its length, buf is
// grown once to that size (plus the byte that shows whether more follows)
// instead of from 512 bytes up, as io.ReadAll would.
func readBody(r *http.Request, limit int64, buf []byte) ([]byte, error) {
	size := int64(512)
	if r.ContentLength > 0 {
		size = min(r.ContentLength+1, limit)
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, 0, size)
	}
	lr := io.LimitedReader{R: r.Body, N: limit}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}

// formMediaType is the only media type a token request may have.
const formMediaType = "application/x-www-form-urlencoded"

func checkContentType(ct string) *Error {
	if ct == formMediaType {
		return nil // the usual spelling, without ParseMediaType's allocations
	}
	if ct == "" {
		return NewError(http.StatusBadRequest, ErrInvalidRequest, "Content-Type must be application/x-www-form-urlencoded")
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != formMediaType {
		return NewError(http.StatusBadRequest, ErrInvalidRequest, "Content-Type must be application/x-www-form-urlencoded")
	}
	return nil
}

func tooLarge(limit int64) *Error {
	return NewError(http.StatusRequestEntityTooLarge, ErrInvalidRequest, "request body larger than %d bytes", limit)
}
