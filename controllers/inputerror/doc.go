// Package inputerror is the error of input the operator cannot use: a
// certificate source, a trust policy statement, a selector. It says which
// part of the spec is at fault, with a condition reason, and what can fix
// it, which decides whether the policy is Stalled.
package inputerror
