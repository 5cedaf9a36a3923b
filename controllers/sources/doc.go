// Package sources resolves a VerificationPolicy's certificate sources into
// PEM bytes.
//
// It is kept apart from rendering (package trustconfig) and from writing
// (package targets), as trust-manager keeps source resolution apart from
// target sync: this is the only code that reads user-provided Secrets and
// ConfigMaps, and it reads them from one namespace only, the operator's trust
// namespace. A KeyReference has no namespace field, and the Resolver holds the
// namespace itself, so no policy can make the operator read elsewhere.
//
// The one exception is ClusterTrustBundles (clustertrustbundles.go): they
// are cluster-scoped and published for every authenticated user to read, so
// they are read where they are, through the manager's cache, at the API
// version discovery found served. Nothing namespaced is read for them.
package sources
