package trustconfig

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Length limits for text derived from the input. Subjects, names and origins
// come from users (or from whoever issued a certificate); a 10,000-character
// subject must not turn into a 10,000-character condition message.
const (
	maxNameLen        = 64   // a source or statement name
	maxOriginLen      = 160  // Source.Origin
	maxDNLen          = 256  // a subject or issuer in a CertificateStatus
	maxDNInMessageLen = 128  // a subject or issuer inside a message
	maxMessageLen     = 1024 // a whole Error or Warning message
	maxListedNames    = 5    // names listed in one message before "and N more"
)

const ellipsis = "..."

// truncate returns s cut to at most limit bytes, ending in "..." when cut.
// It never splits a UTF-8 sequence and replaces invalid UTF-8, so the result
// survives a round trip through the API server's JSON unchanged.
func truncate(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	if limit <= len(ellipsis) {
		return ellipsis[:max(limit, 0)]
	}
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// listNames renders names as "a, b and c", listing at most maxListedNames and
// counting the rest, so messages stay short with 64 sources.
func listNames(names []string) string {
	shown := names
	if len(shown) > maxListedNames {
		shown = shown[:maxListedNames]
	}
	parts := make([]string, len(shown))
	for i, n := range shown {
		parts[i] = truncate(n, maxNameLen)
	}
	switch {
	case len(names) > len(shown):
		return fmt.Sprintf("%s and %d more", strings.Join(parts, ", "), len(names)-len(shown))
	case len(parts) <= 1:
		return strings.Join(parts, "")
	default:
		return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
}

// fromOrigin renders " (from <origin>)" or nothing when the origin is unknown.
func fromOrigin(origin string) string {
	if origin == "" {
		return ""
	}
	return " (from " + truncate(origin, maxOriginLen) + ")"
}

// lineOf returns the 1-based line number of offset off in data.
func lineOf(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}
