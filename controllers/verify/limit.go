package verify

import (
	"fmt"
	"io"
	"net/http"
)

// Every registry response body is capped. notation-go already refuses a
// signature manifest over 4 MiB and an envelope over 32 MiB (by the size in
// the descriptor, before fetching), and oras-go caps tag lists and
// referrers at 4 MiB and reads blobs only up to their descriptor's size.
// That still lets one hostile registry make each of Concurrency
// verifications hold 3 × 32 MiB of envelopes. Real envelopes are a few KiB,
// so the default cap is 4 MiB for every response: an envelope between that
// and 32 MiB, which Flux would fetch (and fail to parse, in practice), is
// reported as ResponseTooLarge instead.
//
// A response that declares a larger Content-Length is refused before its
// body is read; one that does not is cut off after the limit.
type limitTransport struct {
	next  http.RoundTripper
	limit int64
}

// ResponseTooLargeError reports a registry response over the limit. The
// HTTP client wraps it in a *url.Error, which names the request.
type ResponseTooLargeError struct {
	Size  int64 // -1 when the body was cut off without a declared size
	Limit int64
}

func (e *ResponseTooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("response body exceeds the %d-byte limit", e.Limit)
	}
	return fmt.Sprintf("response body of %d bytes exceeds the %d-byte limit", e.Size, e.Limit)
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead {
		return resp, err
	}
	tooLarge := &ResponseTooLargeError{Size: resp.ContentLength, Limit: t.limit}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, tooLarge
	}
	tooLarge.Size = -1
	resp.Body = &limitedBody{rc: resp.Body, remaining: t.limit, err: tooLarge}
	return resp, nil
}

// limitedBody fails a read that would go past the limit. Reading exactly the
// limit is allowed; one byte more is an error, not a silent truncation that
// a JSON decoder might accept.
type limitedBody struct {
	rc        io.ReadCloser
	remaining int64
	err       error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.remaining < 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.remaining+1 {
		p = p[:b.remaining+1]
	}
	n, err := b.rc.Read(p)
	b.remaining -= int64(n)
	if b.remaining < 0 {
		return n + int(b.remaining), b.err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
