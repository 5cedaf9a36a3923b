package text

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Ellipsis ends a truncated string.
const Ellipsis = "…"

// Truncate returns s cut to at most limit bytes, ending in Ellipsis when
// cut. It never splits a UTF-8 sequence and replaces invalid UTF-8, so the
// result survives a round trip through the API server's JSON unchanged.
func Truncate(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	if limit < len(Ellipsis) {
		return ""
	}
	cut := limit - len(Ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}

// Join lists at most limit items, separated by sep, and says how many were
// left out: "a, b and 3 more". With last set, the final two of a complete
// list are joined by it instead ("a, b and c").
func Join(items []string, limit int, sep, last string) string {
	if len(items) > limit {
		return strings.Join(items[:limit], sep) + fmt.Sprintf(" and %d more", len(items)-limit)
	}
	if last == "" || len(items) < 2 {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:len(items)-1], sep) + last + items[len(items)-1]
}

// ShortDigest abbreviates "sha256:<hex>" to its algorithm and 12 hex
// digits, enough to tell configurations apart in a message.
func ShortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// Set returns the items as a set.
func Set(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, i := range items {
		m[i] = true
	}
	return m
}
