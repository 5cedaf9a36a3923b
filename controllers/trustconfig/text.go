package trustconfig

import (
	"bytes"

	"github.com/flux-notation/verification-operator/controllers/internal/text"
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

// listNames renders names as "a, b and c", listing at most maxListedNames and
// counting the rest, so messages stay short with 64 sources.
func listNames(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = text.Truncate(n, maxNameLen)
	}
	return text.Join(parts, maxListedNames, ", ", " and ")
}

// fromOrigin renders " (from <origin>)" or nothing when the origin is unknown.
func fromOrigin(origin string) string {
	if origin == "" {
		return ""
	}
	return " (from " + text.Truncate(origin, maxOriginLen) + ")"
}

// lineOf returns the 1-based line number of offset off in data.
func lineOf(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}
