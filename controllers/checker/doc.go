// Package checker finds the Flux objects a VerificationPolicy governs
// (OCIRepositories, and HelmCharts from OCI HelmRepositories) and tells, for
// each, whether its artifact verifies with given trust data: the operator's
// own verdict (package verify) next to Flux's (package fluxverdict). The
// artifact reconciler checks against the Secrets in place; the rollout gates
// against a configuration not yet written.
package checker
