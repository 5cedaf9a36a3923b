// Package text shortens what the operator writes into conditions, events
// and status fields: user input (names, subjects) and registry errors can
// be arbitrarily long, and status must stay small.
package text
