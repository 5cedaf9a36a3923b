// Package ocirepos knows Flux OCIRepositories from the operator's side:
// which ones a VerificationPolicy governs, the view of their status that
// package fluxverdict judges, and how to reach their registry with the
// OCIRepository's own access settings.
//
// OCIRepositories are handled as unstructured objects and converted to the
// Flux API module's types: newer source-controllers add fields (for example
// status.sourceVerificationFingerprint in v1.10) that the pinned types do
// not have, and those must be read, not dropped.
package ocirepos
