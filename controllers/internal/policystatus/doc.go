// Package policystatus writes a VerificationPolicy's status and derives its
// Ready condition.
//
// Two reconcilers share one status: the sync reconciler (Secrets, rollout,
// most conditions) and the artifact reconciler (verdicts and
// ArtifactsVerified). Each writes its share in ONE request, so a reader
// (kubectl, kstatus, Flux's health checks) never sees a condition that
// disagrees with the counts next to it: fluxcd/pkg/runtime's patch helper
// writes conditions and the rest of status in separate requests, which let
// Ready=False/SecretConflict be seen with empty namespace counts.
//
// Ready is a pure function of the other conditions (see ready.go), so both
// reconcilers can recompute it in the same request as the conditions it is
// derived from, and it is always consistent with them.
package policystatus
