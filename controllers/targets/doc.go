// Package targets decides which namespaces a VerificationPolicy targets and
// writes the rendered Secret into them.
//
// Its promises: a Secret it did not create is never modified or deleted; a
// namespace that needs no change costs no API write; a failure in one
// namespace does not stop the others.
package targets
