package registry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Garbage is a registry that speaks enough of the distribution API to be
// believed (200 answers, plausible media types and digest headers) but whose
// manifests, indexes, tag lists and blobs are not what their headers claim.
type Garbage struct {
	server  *httptest.Server
	counter *counter
}

// garbageBody is what every GET returns. It is not JSON, so every decoder on
// the client side must fail cleanly.
const garbageBody = "<html>this is not a manifest</html>"

// NewGarbage starts a garbage registry on 127.0.0.1 over plain HTTP.
func NewGarbage() *Garbage {
	g := &Garbage{counter: newCounter(http.HandlerFunc(serveGarbage))}
	g.server = httptest.NewServer(g.counter)
	return g
}

// StartGarbage is NewGarbage for tests, closed when the test ends.
func StartGarbage(tb testing.TB) *Garbage {
	tb.Helper()
	g := NewGarbage()
	tb.Cleanup(g.Close)
	return g
}

// Host returns "127.0.0.1:<port>".
func (g *Garbage) Host() string { return g.server.Listener.Addr().String() }

// Requests returns how many HTTP requests the registry has received.
func (g *Garbage) Requests() int64 { return g.counter.requests() }

// Close stops the server.
func (g *Garbage) Close() { g.server.Close() }

func serveGarbage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.URL.Path == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}

	// Claim to be exactly what was asked for: a digest reference gets its
	// own digest back, so clients that check the header accept the answer
	// and only fail when they read the body.
	last := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	dgst := digest.FromString(garbageBody)
	if d, err := digest.Parse(last); err == nil {
		dgst = d
	}
	mediaType := ocispec.MediaTypeImageManifest
	if strings.Contains(r.URL.Path, "/referrers/") {
		mediaType = ocispec.MediaTypeImageIndex
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", dgst.String())
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(garbageBody))
	}
}
