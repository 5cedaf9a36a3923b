package inputerror

import (
	"errors"
	"fmt"
)

// Kind says what can fix the input.
type Kind int

const (
	// Stalling input lives in the policy itself (an inline certificate, a
	// trust policy statement): only a spec change fixes it, so the policy
	// is Stalled and is not retried until one.
	Stalling Kind = iota
	// Waiting input comes from an object the policy references (a Secret or
	// ConfigMap in the trust namespace): fixing or creating that object
	// fixes it, and its watch wakes the reconciler.
	Waiting
)

// Error is input the operator cannot use. Reason is one of the condition
// reasons of api/v1alpha1, copied into conditions unchanged. Field points
// into the spec, for example "certificates[team-roots]"; it is empty when
// the failure is not tied to one entry. Message is meant for a platform
// engineer reading a condition: it says what is wrong, never echoes
// certificate or key material, and is bounded in length.
type Error struct {
	Kind    Kind
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

// ConditionMessage is the message a rejection gets in the policy's
// SecretsSynced condition and Warning event: nothing was written, so the
// Secrets of the last good configuration stay. kubectl vpol prints the
// same text, so a CI check and the cluster say the same thing.
func (e *Error) ConditionMessage() string {
	return fmt.Sprintf("%s: %s; the Secrets of the last good configuration are left in place", e.Field, e.Message)
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
