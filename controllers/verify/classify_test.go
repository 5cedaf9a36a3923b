package verify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// TestRegistryErrorsAreClassified pins the mapping of errors from the
// registry conversation, wrapped as the HTTP client and oras-go wrap them.
func TestRegistryErrorsAreClassified(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "https://r.example.com/v2/", Err: err} }
	status := func(code int) error { return &errcode.ErrorResponse{Method: "GET", URL: &url.URL{}, StatusCode: code} }
	var syntaxErr *json.SyntaxError
	syntax := json.Unmarshal([]byte("<html>"), &struct{}{})
	errors.As(syntax, &syntaxErr)

	cases := []struct {
		name     string
		err      error
		outcome  Outcome
		reason   string
		hostDown bool
	}{
		{"401", status(401), Failed, ReasonRegistryAuthFailed, false},
		{"403", status(403), Failed, ReasonRegistryAuthFailed, false},
		{"no basic credential", fmt.Errorf("HEAD x: %w", auth.ErrBasicCredentialNotFound), Failed, ReasonRegistryAuthFailed, false},
		{"404", status(404), Failed, ReasonDigestNotFound, false},
		{"manifest not found", fmt.Errorf("sha256:x: %w", errdef.ErrNotFound), Failed, ReasonDigestNotFound, false},
		{"400", status(400), Failed, ReasonInvalidRegistryResponse, false},
		{"503", status(503), Unavailable, ReasonRegistryUnreachable, true},
		{"429", status(429), Unavailable, ReasonRegistryUnreachable, true},
		{"timeout", wrap(context.DeadlineExceeded), Unavailable, ReasonRegistryUnreachable, true},
		{"canceled", wrap(context.Canceled), Unavailable, ReasonCanceled, false},
		{"refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), Unavailable, ReasonRegistryUnreachable, true},
		{"dns", wrap(&net.DNSError{Err: "no such host", Name: "r.example.com"}), Unavailable, ReasonRegistryUnreachable, true},
		{"untrusted server", wrap(x509.UnknownAuthorityError{}), Failed, ReasonRegistryAuthFailed, false},
		{"wrong host name", wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "r"}), Failed, ReasonRegistryAuthFailed, false},
		{"TLS alert", wrap(&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}), Failed, ReasonRegistryAuthFailed, false},
		{"too large", wrap(&ResponseTooLargeError{Size: 10, Limit: 1}), Failed, ReasonResponseTooLarge, false},
		{"oras size limit", fmt.Errorf("x: %w", errdef.ErrSizeExceedsLimit), Failed, ReasonResponseTooLarge, false},
		{"not JSON", fmt.Errorf("decode: %w", syntaxErr), Failed, ReasonInvalidRegistryResponse, false},
		{"host down", &hostDownError{host: "r", cause: "x", until: time.Now()}, Unavailable, ReasonRegistryUnreachable, false},
		{"anything else", errors.New("signature manifest requries exactly one signature envelope blob, got 2"), Failed, ReasonInvalidRegistryResponse, false},
	}
	for _, tc := range cases {
		g := NewWithT(t)
		v := classifyRegistryError(tc.err, "msg")
		g.Expect(v.Outcome).To(Equal(tc.outcome), tc.name)
		g.Expect(v.Reason).To(Equal(tc.reason), tc.name)
		g.Expect(v.hostDown).To(Equal(tc.hostDown), tc.name)
		g.Expect(v.cacheable).To(BeFalse(), "%s: registry trouble is never cached", tc.name)
	}
}
