// Package quote renders untrusted text (a caller-chosen identifier, a claim
// value, an upstream's description) for an error description or a log
// line: Go-quoted, so that control characters cannot forge a log line, and
// cut short, so that a long value cannot bloat an answer or a log.
package quote

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text is s quoted, cut to max bytes (with "..." after the closing quote
// when cut).
func Text(s string, max int) string {
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// Clean is s without control characters or invalid UTF-8, trimmed, and
// cut to max runes: for untrusted text that goes into a JSON field or a
// log field as it is, unquoted (an upstream's error description, a claimed
// identifier).
func Clean(s string, max int) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}
