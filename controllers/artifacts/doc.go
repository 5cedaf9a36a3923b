// Package artifacts is the companion reconciler: for each VerificationPolicy
// it finds the Flux objects that verify with the policy's Secret
// (OCIRepositories, and HelmCharts from OCI HelmRepositories), makes Flux
// verify them again after a trust change, verifies them itself with
// notation-go exactly as Flux would (package checker), and aggregates the
// outcome on the policy. It runs in its own workers, so a slow registry
// never delays the Secret sync.
package artifacts
