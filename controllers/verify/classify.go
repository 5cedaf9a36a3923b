package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// verdict is a Result under construction with what the Verifier does with
// it.
type verdict struct {
	Result
	// cacheable: the verdict depends only on the artifact, its signatures
	// and the trust material, not on access or the registry's health.
	cacheable bool
	// hostDown: the registry host itself failed (no connection, timeout,
	// 5xx); start its back-off.
	hostDown bool
}

func failed(reason, msg string) verdict {
	return verdict{Result: Result{Outcome: Failed, Reason: reason, Message: msg}}
}

// fluxPrefix starts Flux's SourceVerified=False message; keeping it lets a
// user match our message with Flux's condition.
const fluxPrefix = "failed to verify the signature using provider 'notation': "

// classifySuccess is Flux's checkOutcome for a nil error from
// notation.Verify: a skip level (notation-go returns its LevelSkip pointer)
// or a failed authenticity check that the level only logs (audit) is
// ignored; anything else verified.
func classifySuccess(outcomes []*notation.VerificationOutcome, ref, revision string) verdict {
	if len(outcomes) == 0 {
		v := failed(ReasonVerificationFailed, fluxPrefix+"signature verification failed for all the signatures associated with "+ref)
		v.cacheable = true
		return v
	}
	outcome := outcomes[0]
	if outcome.VerificationLevel == trustpolicy.LevelSkip {
		return verdict{Result: Result{Outcome: Ignored, Reason: ReasonSkipped,
			Message: "the trust policy skips verification for " + ref}, cacheable: true}
	}
	for _, r := range outcome.VerificationResults {
		if r.Error != nil && r.Type == trustpolicy.TypeAuthenticity {
			return verdict{Result: Result{Outcome: Ignored, Reason: ReasonAuditOnly,
				Message: "verification level '" + outcome.VerificationLevel.Name + "' logs the authenticity failure: " + r.Error.Error(),
				Signer:  signerOf(outcome)}, cacheable: true}
		}
	}
	return verdict{Result: Result{Outcome: Verified, Reason: ReasonSucceeded,
		Message: "verified signature of revision " + revision, Signer: signerOf(outcome)}, cacheable: true}
}

// signerOf returns the subject of the signing certificate of a signature
// notation-go could parse, or "".
func signerOf(o *notation.VerificationOutcome) string {
	if o == nil || o.EnvelopeContent == nil || len(o.EnvelopeContent.SignerInfo.CertificateChain) == 0 {
		return ""
	}
	return o.EnvelopeContent.SignerInfo.CertificateChain[0].Subject.String()
}

// classifyFailure gives notation.Verify's error a reason. registryErr is the
// first error the registry returned during the call, outcomes the outcome
// of each signature tried.
func classifyFailure(err, registryErr error, outcomes []*notation.VerificationOutcome) verdict {
	msg := fluxPrefix + err.Error()

	var noPolicy notation.NoApplicableTrustPolicyError
	if errors.As(err, &noPolicy) {
		v := failed(ReasonNoApplicableTrustPolicy, msg)
		v.cacheable = true
		return v
	}
	if registryErr != nil {
		// notation-go's text around a registry error repeats the artifact
		// reference and the digest; the error itself names the URL.
		return classifyRegistryError(registryErr, fluxPrefix+registryErr.Error())
	}
	if len(outcomes) > 0 {
		best, reason, signer := -1, ReasonVerificationFailed, ""
		for _, o := range outcomes {
			if rank, r := signatureFailure(o); rank > best {
				best, reason, signer = rank, r, signerOf(o)
			}
		}
		v := failed(reason, msg)
		v.Signer = signer
		v.cacheable = true
		return v
	}
	var retrieval notation.SignatureRetrievalFailedError
	if errors.As(err, &retrieval) {
		// No registry error and no signature tried: the listing was empty.
		v := failed(ReasonSignatureNotFound, msg)
		v.cacheable = true
		return v
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classifyRegistryError(err, msg)
	}
	return failed(ReasonVerificationFailed, msg)
}

// signatureFailure names why one signature failed. The rank orders the
// stages of notation-go's pipeline, so that among several failed signatures
// the one that got furthest (the most specific diagnosis) is reported: a
// signature from the trusted CA with the wrong identity says more than one
// from an unknown CA.
func signatureFailure(o *notation.VerificationOutcome) (rank int, reason string) {
	var parse *certificateParseError
	if errors.As(o.Error, &parse) {
		return 100, ReasonInvalidTrustConfig
	}
	for _, r := range o.VerificationResults {
		if r.Error == nil || r.Action != trustpolicy.ActionEnforce {
			continue // passed, or only logged at this level
		}
		switch r.Type {
		case trustpolicy.TypeIntegrity:
			return 1, ReasonVerificationFailed
		case trustpolicy.TypeAuthenticity:
			var untrusted *signature.SignatureAuthenticityError
			var inconclusive notation.VerificationInconclusiveError
			switch {
			case errors.As(r.Error, &untrusted), errors.As(r.Error, &inconclusive):
				// Inconclusive here means no trusted certificate of the
				// needed store type at all.
				return 3, ReasonUntrustedSigner
			default:
				// The chain was trusted (notation-go checks it first and
				// stops there); what failed is the trusted identity check,
				// which reuses this result.
				return 4, ReasonIdentityMismatch
			}
		case trustpolicy.TypeExpiry:
			return 5, ReasonCertificateExpired
		case trustpolicy.TypeAuthenticTimestamp:
			return 6, ReasonVerificationFailed
		case trustpolicy.TypeRevocation:
			return 7, ReasonRevocationCheckFailed
		}
	}
	if requiresPlugin(o) {
		return 2, ReasonPluginRequired
	}
	return 0, ReasonVerificationFailed
}

// requiresPlugin reports whether the signature names a verification plugin,
// which notation-go cannot run without a plugin manager.
func requiresPlugin(o *notation.VerificationOutcome) bool {
	if o.EnvelopeContent == nil {
		return false
	}
	for _, a := range o.EnvelopeContent.SignerInfo.SignedAttributes.ExtendedAttributes {
		if k, ok := a.Key.(string); ok && k == verifier.HeaderVerificationPlugin {
			return true
		}
	}
	return false
}

// classifyRegistryError maps an error from talking to the registry. Access
// problems that depend on this request's configuration (credentials, TLS
// trust) fail it; only failures of the registry itself mark the host down,
// so one OCIRepository's bad CA cannot cut off the others.
func classifyRegistryError(err error, msg string) verdict {
	var (
		tooLarge *ResponseTooLargeError
		down     *hostDownError
		resp     *errcode.ErrorResponse
		access   *accessError
		netErr   net.Error
		opErr    *net.OpError
		dnsErr   *net.DNSError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		tlsVerif *tls.CertificateVerificationError
		header   tls.RecordHeaderError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	unavailable := func(reason string, hostDown bool) verdict {
		return verdict{Result: Result{Outcome: Unavailable, Reason: reason, Message: msg}, hostDown: hostDown}
	}
	switch {
	case errors.As(err, &tooLarge), errors.Is(err, errdef.ErrSizeExceedsLimit):
		return failed(ReasonResponseTooLarge, msg)
	case errors.As(err, &access), errors.Is(err, auth.ErrBasicCredentialNotFound):
		// A basic-auth challenge and no credential for it.
		return failed(ReasonRegistryAuthFailed, msg)
	case errors.As(err, &down):
		return unavailable(ReasonRegistryUnreachable, false)
	case errors.Is(err, context.Canceled):
		return unavailable(ReasonCanceled, false)
	case errors.Is(err, context.DeadlineExceeded):
		return unavailable(ReasonRegistryUnreachable, true)
	case errors.As(err, &resp):
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return failed(ReasonRegistryAuthFailed, msg)
		case resp.StatusCode == http.StatusNotFound:
			return failed(ReasonDigestNotFound, msg)
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
			return unavailable(ReasonRegistryUnreachable, true)
		default:
			return failed(ReasonInvalidRegistryResponse, msg)
		}
	case errors.Is(err, errdef.ErrNotFound):
		return failed(ReasonDigestNotFound, msg)
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &tlsVerif):
		// The server's certificate is not trusted with this request's CA.
		return failed(ReasonRegistryAuthFailed, msg)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// A TLS alert from the server, such as a refused client certificate.
		return failed(ReasonRegistryAuthFailed, msg)
	case errors.As(err, &header):
		// HTTPS to a plain-HTTP registry: spec.insecure is missing.
		return unavailable(ReasonRegistryUnreachable, false)
	case errors.As(err, &netErr) && netErr.Timeout():
		return unavailable(ReasonRegistryUnreachable, true)
	case errors.As(err, &opErr), errors.As(err, &dnsErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return unavailable(ReasonRegistryUnreachable, true)
	case errors.As(err, &syntax), errors.As(err, &typ),
		errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData),
		errors.Is(err, content.ErrInvalidDescriptorSize), errors.Is(err, errdef.ErrInvalidDigest),
		errors.Is(err, errdef.ErrUnsupported), errors.Is(err, errdef.ErrInvalidMediaType):
		return failed(ReasonInvalidRegistryResponse, msg)
	default:
		// Anything else the registry made us fail on, such as a signature
		// manifest that is not shaped like one.
		return failed(ReasonInvalidRegistryResponse, msg)
	}
}
