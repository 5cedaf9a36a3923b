package verify

import "github.com/fluxcd/pkg/apis/meta"

// Outcome is what a verification concluded.
type Outcome string

const (
	// Verified: a signature verified, as Flux would record
	// SourceVerified=True.
	Verified Outcome = "Verified"
	// Failed: Flux would fail the verification (or could not start it, for
	// bad trust or access configuration).
	Failed Outcome = "Failed"
	// Ignored: the trust policy's level is skip, or audit and a signature
	// failed authenticity; Flux records no SourceVerified condition.
	Ignored Outcome = "Ignored"
	// Unavailable: the registry could not be asked; nothing is known about
	// the artifact. Never cached.
	Unavailable Outcome = "Unavailable"
)

// Reasons are stable CamelCase strings; the set is closed so callers can
// count by reason.
const (
	// ReasonSucceeded goes with Verified: Flux's condition reason.
	ReasonSucceeded = meta.SucceededReason
	// ReasonSkipped: the applicable trust policy statement has level skip.
	ReasonSkipped = "VerificationSkipped"
	// ReasonAuditOnly: the level is audit and authenticity failed, which is
	// logged, not enforced.
	ReasonAuditOnly = "AuditOnly"

	// ReasonUntrustedSigner: no certificate of the signature's chain is in
	// the trust material.
	ReasonUntrustedSigner = "UntrustedSigner"
	// ReasonIdentityMismatch: the chain is trusted but the signing
	// certificate's subject matches none of trustedIdentities.
	ReasonIdentityMismatch = "IdentityMismatch"
	// ReasonSignatureNotFound: the artifact has no Notation signature.
	ReasonSignatureNotFound = "SignatureNotFound"
	// ReasonNoApplicableTrustPolicy: no statement's registryScopes match the
	// artifact's repository.
	ReasonNoApplicableTrustPolicy = "NoApplicableTrustPolicy"
	// ReasonPluginRequired: the signature needs a verification plugin, and
	// Flux has none.
	ReasonPluginRequired = "PluginRequired"
	// ReasonCertificateExpired: the signature has expired.
	ReasonCertificateExpired = "CertificateExpired"
	// ReasonRevocationCheckFailed: a certificate is revoked, or its status
	// could not be established, and the level enforces revocation.
	ReasonRevocationCheckFailed = "RevocationCheckFailed"
	// ReasonVerificationFailed: any other Notation failure (a malformed or
	// tampered envelope, a bad timestamp, a descriptor mismatch).
	ReasonVerificationFailed = "VerificationFailed"
	// ReasonInvalidTrustConfig: the Secret data cannot be used as Flux
	// reads it (no trust policy, no certificate, an invalid policy, a
	// certificate that does not parse).
	ReasonInvalidTrustConfig = "InvalidTrustConfig"

	// ReasonInvalidReference: spec.url, spec.ref or the revision is
	// malformed.
	ReasonInvalidReference = "InvalidReference"
	// ReasonDigestNotFound: the manifest, tag or semver range does not
	// resolve in the registry.
	ReasonDigestNotFound = "DigestNotFound"
	// ReasonRegistryAuthFailed: the registry refused the credentials, or the
	// pull secrets or TLS material cannot be used.
	ReasonRegistryAuthFailed = "RegistryAuthFailed"
	// ReasonInvalidRegistryResponse: the registry answered with content that
	// is not what the API promises (bad JSON, a digest mismatch).
	ReasonInvalidRegistryResponse = "InvalidRegistryResponse"
	// ReasonResponseTooLarge: a registry response exceeded
	// Options.MaxResponseBytes, for example an oversized signature envelope.
	ReasonResponseTooLarge = "ResponseTooLarge"

	// ReasonRegistryUnreachable (Unavailable): timeout, connection or TLS
	// handshake failure, or a 5xx/429 answer.
	ReasonRegistryUnreachable = "RegistryUnreachable"
	// ReasonCanceled (Unavailable): the caller's context ended first.
	ReasonCanceled = "Canceled"
)
