package trustconfig

import (
	"fmt"

	"github.com/flux-notation/verification-operator/controllers/inputerror"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
)

// Error is a rendering failure caused by the input: a certificate source, a
// trust policy statement, or the size of the result. Its Reason is one of
// the condition reasons of api/v1alpha1 (ReasonInvalidCertificate,
// ReasonPrivateKeyRejected, ReasonInvalidTrustPolicy, ReasonDuplicateKey,
// ReasonSecretTooLarge, ReasonInvalidSpec), and its Kind is Waiting when the
// content at fault came from a Secret or ConfigMap (fixing that object fixes
// it), Stalling otherwise.
type Error = inputerror.Error

// newError builds an *Error whose message is cut to maxMessageLen, so a
// hostile or merely huge input cannot blow up a status condition. It is
// Stalling until fixedBy says otherwise.
func newError(reason, field, format string, args ...any) *Error {
	return &Error{
		Kind:    inputerror.Stalling,
		Reason:  reason,
		Field:   field,
		Message: text.Truncate(fmt.Sprintf(format, args...), maxMessageLen),
	}
}

// fixedBy marks err as fixable by editing the object src was read from.
func fixedBy(err *Error, src *Source) *Error {
	if src.FromObject {
		err.Kind = inputerror.Waiting
	}
	return err
}

// certificatesField names a certificate source in Error.Field.
func certificatesField(name string) string {
	return "certificates[" + text.Truncate(name, maxNameLen) + "]"
}

// trustPoliciesField names a trust policy statement in Error.Field.
func trustPoliciesField(name string) string {
	return "trustPolicies[" + text.Truncate(name, maxNameLen) + "]"
}
