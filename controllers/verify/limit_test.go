package verify

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestResponsesAreCapped(t *testing.T) {
	const limit = 16
	body := func(n int) string { return strings.Repeat("x", n) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(r.URL.Path) // path length chooses the body size
		if r.URL.Query().Get("chunked") != "" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		_, _ = io.WriteString(w, body(n))
	}))
	defer srv.Close()
	client := &http.Client{Transport: &limitTransport{next: http.DefaultTransport, limit: limit}}

	get := func(path string) (string, error) {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	g := NewWithT(t)

	got, err := get("/" + body(limit-1)) // exactly the limit
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(HaveLen(limit))

	_, err = get("/" + body(limit)) // declared size over the limit
	var tooLarge *ResponseTooLargeError
	g.Expect(errors.As(err, &tooLarge)).To(BeTrue(), "%v", err)
	g.Expect(tooLarge.Size).To(BeEquivalentTo(limit + 1))

	got, err = get("/" + body(limit) + "?chunked=1") // cut off while reading
	g.Expect(errors.As(err, &tooLarge)).To(BeTrue(), "%v", err)
	g.Expect(tooLarge.Size).To(BeEquivalentTo(-1))
	g.Expect(got).To(HaveLen(limit))

	got, err = get("/" + body(limit-1) + "?chunked=1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(HaveLen(limit))
}
