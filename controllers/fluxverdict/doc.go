// Package fluxverdict judges what Flux's source-controller reports about a
// source's signature verification (an OCIRepository's or a HelmChart's
// SourceVerified condition) against the trust material the operator wrote,
// and decides how to make Flux verify again after a trust change.
//
// A verdict is current only when it can be shown to be: source-controller
// v1.10+ records the fingerprint of the trust material it verified with;
// before that, a verdict counts as current only once Flux reports having
// handled the operator's request and the condition is a new one. Anything
// else is stale, never current. The decisions are pure; the companion
// reconciler (package artifacts) does the I/O, and records what it did in
// annotations on the object so a restart neither repeats nor forgets it.
package fluxverdict
