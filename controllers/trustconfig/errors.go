package trustconfig

import "fmt"

// Error is a rendering failure caused by the input: a certificate source, a
// trust policy statement, or the size of the result. Reason is one of the
// condition reasons of api/v1alpha1 (ReasonInvalidCertificate,
// ReasonPrivateKeyRejected, ReasonInvalidTrustPolicy, ReasonDuplicateKey,
// ReasonSecretTooLarge, ReasonInvalidSpec) so the controller can copy it into
// a condition unchanged. Field points into the spec, for example
// "certificates[team-roots]" or "trustPolicies[prod]"; it is empty when the
// failure is not tied to one entry.
//
// Message is meant for a platform engineer reading a condition: it says what
// is wrong and what to do, never echoes certificate or key material, and is
// bounded in length whatever the input.
type Error struct {
	Reason  string
	Field   string
	Message string
}

// Error implements the error interface as "<field>: <message>".
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// newError builds an *Error whose message is cut to maxMessageLen, so a
// hostile or merely huge input cannot blow up a status condition.
func newError(reason, field, format string, args ...any) *Error {
	return &Error{
		Reason:  reason,
		Field:   field,
		Message: truncate(fmt.Sprintf(format, args...), maxMessageLen),
	}
}

// certificatesField names a certificate source in Error.Field.
func certificatesField(name string) string {
	return "certificates[" + truncate(name, maxNameLen) + "]"
}

// trustPoliciesField names a trust policy statement in Error.Field.
func trustPoliciesField(name string) string {
	return "trustPolicies[" + truncate(name, maxNameLen) + "]"
}
