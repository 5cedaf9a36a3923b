package verify

import "time"

// Reference says which artifact of the repository to verify.
//
// For an OCIRepository it is spec.ref, with Flux's precedence: Digest, then
// SemVer (filtered by SemverFilter), then Tag, then "latest".
//
// For a HelmChart from an OCI HelmRepository, ChartVersion is set instead,
// resolved as source-controller resolves a chart version there: a version
// that parses as SemVer is used as it is; anything else is a constraint
// ("" or "*": the latest stable version) over the repository's SemVer tags
// read as Helm writes them ("_" for "+"), an exact tag winning.
type Reference struct {
	Digest, SemVer, SemverFilter, Tag string
	// Chart marks a HelmChart reference; ChartVersion is its version.
	Chart        bool
	ChartVersion string
}

// Access is how the OCIRepository reaches its registry.
type Access struct {
	// Insecure is spec.insecure: plain HTTP.
	Insecure bool
	// DockerConfigJSONs are the .dockerconfigjson values of spec.secretRef
	// and of the service account's imagePullSecrets, in that order.
	DockerConfigJSONs [][]byte
	// CAPEM, CertPEM and KeyPEM are ca.crt, tls.crt and tls.key of
	// spec.certSecretRef. The CA is added to the system roots, as Flux does.
	CAPEM, CertPEM, KeyPEM []byte
	// BasicAuth, when set, is the one credential for the repository's
	// registry (a HelmRepository's spec.secretRef); it takes the place of
	// DockerConfigJSONs.
	BasicAuth *BasicAuth
}

// BasicAuth is a username and password.
type BasicAuth struct {
	Username, Password string
}

// Request is one artifact to verify.
type Request struct {
	// URL is spec.url, "oci://host[:port]/repository".
	URL string
	// Ref is spec.ref.
	Ref Reference
	// Revision is status.artifact.revision ("<tag>@sha256:<hex>" or
	// "sha256:<hex>"). When it carries a digest, that digest is verified and
	// Ref is not resolved: it is what Flux last pulled.
	Revision string
	// Access is spec.insecure, the pull secrets and the TLS material.
	Access Access
	// TrustData is the data of the Secret named by spec.verify.secretRef.
	TrustData map[string][]byte
	// TrustDigest identifies TrustData in the cache
	// (trustconfig.TrustDigest); computed here when empty.
	TrustDigest string
	// NoCache verifies afresh, whatever the cache holds (a user asked for a
	// fresh verdict); the result is cached as usual.
	NoCache bool
	// Kind labels the verification in metrics (OCIRepository, HelmChart).
	Kind string
}

// Result is what Verify concluded.
type Result struct {
	Outcome Outcome
	// Reason is one of the Reason constants.
	Reason string
	// Message is short, safe to show (no credentials, no key material) and
	// close to Flux's wording where Flux has one.
	Message string
	// Digest is the artifact digest that was (or would have been) verified,
	// empty when it could not be determined.
	Digest string
	// Revision is Flux's revision string for Digest: "<tag>@<digest>" when
	// the digest came from a tag, else the digest.
	Revision string
	// Signer is the subject of the signing certificate (the first of the
	// envelope's chain) of the signature the verdict is about: the one that
	// verified, or, when every signature failed, the one whose failure is
	// reported (the one that got furthest). Empty when no signature could
	// be read. It lets a person see who signed what is being rejected,
	// without fetching the envelope again; it is public certificate data.
	Signer string
	// CacheHit means this call made no registry request of its own: the
	// result came from the cache, or from an identical request in flight.
	CacheHit bool
	// CheckedAt is when the result was established (for a cache hit, when
	// the cached verification ran).
	CheckedAt time.Time
}

// SettingsError is an access setting of the artifact's (a pull secret, a
// TLS Secret, a service account) that is missing or cannot be used: the
// artifact cannot be checked until the user fixes it. Message never quotes
// a credential.
type SettingsError struct{ Message string }

func (e *SettingsError) Error() string { return e.Message }
