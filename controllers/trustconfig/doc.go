// Package trustconfig renders the Notation trust configuration that Flux
// source-controller reads from an OCIRepository's spec.verify.secretRef.
//
// The package is pure: it takes the trust policy statements of a
// VerificationPolicy and the PEM bytes of every resolved certificate source,
// and returns the Secret data, its digests, a summary of the certificates and
// warnings, or an *Error naming the source or statement at fault. It does no
// I/O and knows nothing about the Kubernetes API server, so the controller can
// render once and write the same bytes to every namespace, and the rules can
// be tested (and fuzzed) without a cluster.
//
// The output follows how Flux consumes the Secret, which differs from a
// Notation CLI trust store in ways that matter:
//
//   - trustpolicy.json is decoded into notation-go's trustpolicy.Document and
//     validated with its Validate method, so Render calls the same method.
//   - Every key ending in .crt or .pem is a certificate, and only the first
//     PEM block of each key is read. Render therefore writes exactly one
//     certificate per key.
//   - Flux's trust store ignores the type and name of a trust store and
//     returns every certificate in the Secret. Store names in the policy are
//     labels that make notation-go look for the right store type; they do not
//     partition the certificates. Render warns when this makes a difference
//     (TSA roots next to signing roots).
//
// Render is deterministic: the same Input gives byte-identical data, which is
// what makes TrustDigest usable for drift detection and FluxFingerprint
// comparable with what source-controller v1.10+ records.
package trustconfig
