// Package helmcharts knows Flux HelmCharts from the operator's side: which
// ones a VerificationPolicy governs (charts from an OCI HelmRepository, the
// only ones that carry Notation signatures), where their chart lives, how
// to reach its registry with the HelmRepository's access settings, and the
// view of their status that package fluxverdict judges.
//
// Like OCIRepositories they are handled as unstructured objects and
// converted to the Flux API module's types, so fields newer Flux versions
// add are not dropped.
package helmcharts
