package verify

import (
	"regexp"
	"strings"

	"github.com/flux-notation/verification-operator/controllers/internal/text"
)

// urlQuery matches the query of a URL in an error message. Registries
// redirect blob downloads to pre-signed storage URLs whose query is a
// temporary credential, and Go's HTTP errors quote the URL.
var urlQuery = regexp.MustCompile(`(https?://[^\s"?]+)\?[^\s"]*`)

// maxMessageLen bounds messages, which end up in status fields and events;
// a trusted-identities mismatch alone can list a whole policy.
const maxMessageLen = 512

// sanitize makes a message safe to show: URL queries are dropped, known
// credential values are replaced (defence in depth, none of the libraries
// is known to echo them), the multi-line errors notation-go joins become
// one line, and the length is bounded.
func sanitize(msg string, secrets []string) string {
	msg = urlQuery.ReplaceAllString(msg, "$1?…")
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	msg = strings.ReplaceAll(msg, "\n", "; ")
	return text.Truncate(msg, maxMessageLen)
}
