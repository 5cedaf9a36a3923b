// Package verify checks an OCI artifact's Notation signatures against the
// trust material of one of our Secrets, the way Flux source-controller does
// when an OCIRepository has spec.verify.provider: notation. The companion
// reconciler uses it to tell, after a trust change, which OCIRepositories
// would still verify, without waiting for Flux (which may keep a stale
// result) and without a Kubernetes client: the caller reads the
// OCIRepository, its Secrets and service account, and hands over plain data.
//
// # What is matched, and where in Flux it comes from
//
// source-controller's OCIRepository reconciler (verifySignature) and its
// internal/oci/notation package, with notation-go v1.3.2:
//
//   - The Secret: trustpolicy.json is decoded with encoding/json into
//     notation-go's trustpolicy.Document, so unknown fields are ignored;
//     statements at level skip lose their trust stores and identities before
//     validation (Flux's CleanTrustPolicy); every key ending in .crt or .pem
//     is a certificate, of which only the first PEM block is read (raw DER
//     is accepted too). See trust.go.
//   - The trust store ignores store type and name and returns every
//     certificate, so "ca:not-existing" works as long as a store of the
//     right type is listed.
//   - The verifier is verifier.New(policy, store, nil): no plugin manager,
//     so a signature that needs a plugin is inconclusive, and notation-go's
//     default revocation checks (OCSP with a 2 s timeout, CRL) are on.
//   - notation.Verify with MaxSignatureAttempts 3 and the artifact reference
//     "<registry>/<repository>@<digest>", where the repository name is
//     go-containerregistry's (docker.io becomes index.docker.io, a single
//     path element on Docker Hub gets library/), which is what trust policy
//     scopes are matched against.
//   - Outcome mapping (Flux's checkOutcome): a skip level, or an audit level
//     whose authenticity check failed, is Ignored (Flux sets no
//     SourceVerified condition); any error is Failed; otherwise Verified.
//   - Registry access: oras-go with the credentials go-containerregistry's
//     Kubernetes keychain would pick from the pull secrets (credentials.go),
//     TLS from the certificate Secret added to the system roots, and plain
//     HTTP for spec.insecure.
//   - Digest: the one in status.artifact.revision when known; otherwise
//     spec.ref resolved as Flux does (digest, then semver over the tag list
//     with Masterminds/semver and Flux's strict parsing, then tag, then
//     "latest").
//
// # Beyond Flux
//
// Flux verifies one object at a time inside its reconcile timeout. Here many
// verifications share a process, so the package adds isolation: a timeout on
// every registry interaction, a per-registry semaphore and a global one, a
// short back-off for a registry that just proved unreachable, a cap on every
// response body, and a cache of verdicts keyed by repository, artifact
// digest and trust digest. Results carry a bounded Reason so callers can
// aggregate them, and a short message that never contains credentials.
package verify
