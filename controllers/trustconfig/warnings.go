package trustconfig

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/flux-notation/verification-operator/controllers/internal/text"
)

// Warning reasons. A warning never stops rendering: the Secret is still
// written, and the controller reports the warnings (for example in an event
// or a condition message) so someone can act before verification breaks.
const (
	// CertificateExpired: now is after the certificate's notAfter.
	CertificateExpired = "CertificateExpired"
	// CertificateNotYetValid: now is before the certificate's notBefore.
	CertificateNotYetValid = "CertificateNotYetValid"
	// CertificateExpiresSoon: notAfter is within ExpiresSoonWindow.
	CertificateExpiresSoon = "CertificateExpiresSoon"
	// CertificateNotCA: the certificate lacks basicConstraints CA:TRUE.
	CertificateNotCA = "CertificateNotCA"
	// MixedTrustStoreTypes: tsa certificates sit next to ca or
	// signingAuthority certificates, and Flux does not keep them apart.
	MixedTrustStoreTypes = "MixedTrustStoreTypes"
	// DuplicateCertificate: the same certificate (same DER) came more than
	// once; it is written once, under the first key.
	DuplicateCertificate = "DuplicateCertificate"
	// TSACertificatesUnused: tsa certificates exist but no ca certificate, so
	// no tsa trust store is written and timestamps are never checked.
	TSACertificatesUnused = "TSACertificatesUnused"
	// TimestampRequired: a statement now enforces timestamp verification,
	// so notary.x509 signatures without a trusted timestamp fail.
	TimestampRequired = "TimestampRequired"
	// RegistryScopeNeverMatches: a Docker Hub scope is not written the way
	// Flux names the repository, so the statement never applies.
	RegistryScopeNeverMatches = "RegistryScopeNeverMatches"
)

// ExpiresSoonWindow is how close to notAfter a certificate gets a
// CertificateExpiresSoon warning.
const ExpiresSoonWindow = 30 * 24 * time.Hour

// Warning is a problem worth reporting that does not stop rendering.
// Reason is one of the constants above; Message is bounded in size and never
// contains certificate or key material.
type Warning struct {
	Reason  string
	Message string
}

func newWarning(reason, format string, args ...any) Warning {
	return Warning{Reason: reason, Message: text.Truncate(fmt.Sprintf(format, args...), maxMessageLen)}
}

// describe names a written certificate in a message: its key and subject.
func describe(key string, cert *x509.Certificate) string {
	return fmt.Sprintf("certificate %s (subject %q)", key, text.Truncate(cert.Subject.String(), maxDNInMessageLen))
}

// certificateWarnings checks the validity period and CA flag of one written
// certificate at time now.
func certificateWarnings(key string, cert *x509.Certificate, now time.Time) []Warning {
	var warnings []Warning
	const day = "2006-01-02"
	switch {
	case now.Before(cert.NotBefore):
		warnings = append(warnings, newWarning(CertificateNotYetValid,
			"%s is not valid before %s: signatures that chain to it fail verification until then",
			describe(key, cert), cert.NotBefore.UTC().Format(time.RFC3339)))
	case now.After(cert.NotAfter):
		warnings = append(warnings, newWarning(CertificateExpired,
			"%s expired on %s: signatures that chain to it fail the expiry check unless a trusted timestamp covers them; replace it",
			describe(key, cert), cert.NotAfter.UTC().Format(day)))
	case cert.NotAfter.Sub(now) <= ExpiresSoonWindow:
		days := int(cert.NotAfter.Sub(now) / (24 * time.Hour))
		warnings = append(warnings, newWarning(CertificateExpiresSoon,
			"%s expires on %s (in %d days): add its successor to the trust configuration before then",
			describe(key, cert), cert.NotAfter.UTC().Format(day), days))
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		warnings = append(warnings, newWarning(CertificateNotCA,
			"%s is not a CA certificate (basicConstraints CA:TRUE is missing): trust anchors are normally CA roots, "+
				"and the Notation CLI accepts a non-CA anchor only if it is self-signed. Check that the root, not a signing certificate, was configured",
			describe(key, cert)))
	}
	return warnings
}

func duplicateWarning(source, origin string, cert *x509.Certificate, firstKey, firstSource string) Warning {
	return newWarning(DuplicateCertificate,
		"a certificate of source %s%s (subject %q) is identical to %s of source %s; it is written once, under %s",
		text.Truncate(source, maxNameLen), fromOrigin(origin), text.Truncate(cert.Subject.String(), maxDNInMessageLen),
		firstKey, text.Truncate(firstSource, maxNameLen), firstKey)
}

func mixedTypesWarning(tsaSources, signingSources []string) Warning {
	return newWarning(MixedTrustStoreTypes,
		"tsa certificates (sources %s) share the Secret with ca/signingAuthority certificates (sources %s). "+
			"Flux trusts every certificate in the Secret for every trust store type: the TSA roots are also accepted as roots of signatures, "+
			"and the signing roots as roots of timestamps. Configure a TSA root only if you trust its issuer to vouch for signatures too",
		listNames(tsaSources), listNames(signingSources))
}

func tsaUnusedWarning(tsaSources []string) Warning {
	return newWarning(TSACertificatesUnused,
		"tsa certificates (sources %s) are configured but no ca certificate: Notation verifies RFC 3161 timestamps only for notary.x509 signatures, "+
			"which are rooted in ca certificates, so no tsa trust store is written and timestamps are not checked",
		listNames(tsaSources))
}

func timestampRequired(statement string) Warning {
	return newWarning(TimestampRequired,
		"statement %q enforces authenticTimestamp and tsa certificates are configured, so every notary.x509 signature must carry a timestamp "+
			"countersignature from a trusted TSA or verification fails. Set signatureVerification.verifyTimestamp to afterCertExpiry "+
			"to require a timestamp only once the signing certificate has expired",
		text.Truncate(statement, maxNameLen))
}

func scopeNeverMatches(statement, scope, want string) Warning {
	return newWarning(RegistryScopeNeverMatches,
		"statement %q: registry scope %q never matches, because Flux names this repository %q (go-containerregistry's canonical form); use that scope instead",
		text.Truncate(statement, maxNameLen), text.Truncate(scope, maxDNInMessageLen), text.Truncate(want, maxDNInMessageLen+24))
}
