package trustconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
)

// policyVersion is the only trust policy version notation-go v1.3 accepts.
const policyVersion = "1.0"

// storeTypes records which certificate types the sources declare. The trust
// stores of every statement follow from it, because the spec does not let
// users write trust stores themselves.
type storeTypes struct {
	ca, signingAuthority, tsa bool
}

// signingRoots reports whether any certificate can root a signature.
func (t storeTypes) signingRoots() bool {
	return t.ca || t.signingAuthority
}

// trustStores returns the trustStores entry of a statement that verifies
// signatures. Store names are the statement name: Flux ignores them (its
// store returns every certificate in the Secret), but notation-go selects
// stores by type, so each type that must be consulted needs an entry.
//
//   - ca:<name> when a ca certificate exists: notation-go loads ca stores for
//     notary.x509 signatures (verifier/helpers.go, loadX509TrustStores maps
//     SigningSchemeX509 to truststore.TypeCA).
//   - signingAuthority:<name> likewise for notary.x509.signingAuthority
//     signatures (same function, SigningSchemeX509SigningAuthority).
//   - tsa:<name> only when a tsa certificate AND a ca certificate exist.
//     In notation-go v1.3.2 the presence of a tsa store is the switch that
//     turns timestamp verification on (verifier/verifier.go, verifyTimestamp:
//     isTSATrustStoreInPolicy, "Timestamp verification disabled: no tsa trust
//     store is configured in trust policy"); verifyTimestamp: afterCertExpiry
//     only postpones the check until the signing chain has expired, it still
//     needs the store. Timestamps are verified only for notary.x509
//     signatures (verifyAuthenticTimestamp checks the signing time attribute
//     instead for notary.x509.signingAuthority, and loadX509TSATrustStores
//     refuses any other scheme), and notary.x509 signatures are rooted in ca
//     stores. Without a ca certificate a tsa store would never be consulted,
//     so it is left out and a TSACertificatesUnused warning says so.
func (t storeTypes) trustStores(statement string) []string {
	var stores []string
	if t.ca {
		stores = append(stores, string(truststore.TypeCA)+":"+statement)
	}
	if t.signingAuthority {
		stores = append(stores, string(truststore.TypeSigningAuthority)+":"+statement)
	}
	if t.tsaStore() {
		stores = append(stores, string(truststore.TypeTSA)+":"+statement)
	}
	return stores
}

// tsaStore reports whether statements that verify signatures get a tsa store
// (see trustStores).
func (t storeTypes) tsaStore() bool {
	return t.tsa && t.ca
}

// buildPolicy turns the spec statements into notation-go's trust policy
// document, in spec order, and validates it with notation-go's own Validate,
// the function Flux runs on the same bytes. Failures name the statement.
func buildPolicy(statements []v1alpha1.TrustPolicyStatement, types storeTypes) (*trustpolicy.Document, []Warning, *Error) {
	if len(statements) == 0 {
		return nil, nil, newError(v1alpha1.ReasonInvalidTrustPolicy, "trustPolicies",
			"no trust policy statement: Notation needs at least one")
	}

	doc := &trustpolicy.Document{Version: policyVersion}
	var warnings []Warning
	names := make(map[string]bool, len(statements))
	scopes := make(map[string]string)

	for i, st := range statements {
		field := statementField(i, st.Name)
		if st.Name != "" && names[st.Name] {
			return nil, nil, newError(v1alpha1.ReasonInvalidTrustPolicy, field,
				"statement name %q is used twice: statement names must be unique", text.Truncate(st.Name, maxNameLen))
		}
		names[st.Name] = true

		if err := checkScopes(st, field, scopes); err != nil {
			return nil, nil, err
		}
		for _, scope := range st.RegistryScopes {
			if want, ok := dockerHubScope(scope); ok {
				warnings = append(warnings, scopeNeverMatches(st.Name, scope, want))
			}
		}

		tp := toTrustPolicy(st)
		level, err := tp.SignatureVerification.GetVerificationLevel()
		if err != nil {
			return nil, nil, notationError(field, err)
		}
		if level.Name != trustpolicy.LevelSkip.Name {
			if !types.signingRoots() {
				return nil, nil, newError(v1alpha1.ReasonInvalidTrustPolicy, field,
					"the statement verifies signatures (level %s) but no certificate source has type ca or signingAuthority, "+
						"so it would have no trust store to root them: notation-go needs a ca store for notary.x509 signatures and a "+
						"signingAuthority store for notary.x509.signingAuthority signatures. Add a certificate source of type ca, "+
						"or set the level to skip",
					text.Truncate(st.SignatureVerification.Level, maxNameLen))
			}
			tp.TrustStores = types.trustStores(st.Name)
			if types.tsaStore() &&
				level.Enforcement[trustpolicy.TypeAuthenticTimestamp] == trustpolicy.ActionEnforce &&
				tp.SignatureVerification.VerifyTimestamp != trustpolicy.OptionAfterCertExpiry {
				warnings = append(warnings, timestampRequired(st.Name))
			}
		}

		// Validate each statement on its own first, so an error can name it:
		// notation-go's messages quote the statement name but a caller
		// cannot tell which entry of the spec that was.
		single := trustpolicy.Document{Version: policyVersion, TrustPolicies: []trustpolicy.TrustPolicy{tp}}
		if err := single.Validate(); err != nil {
			return nil, nil, notationError(field, err)
		}
		doc.TrustPolicies = append(doc.TrustPolicies, tp)
	}

	// The rules across statements were checked above with clearer messages;
	// this is the exact check Flux runs, kept as the last word.
	if err := doc.Validate(); err != nil {
		return nil, nil, notationError("trustPolicies", err)
	}
	return doc, warnings, nil
}

// toTrustPolicy converts one spec statement. Skip statements get empty
// trustStores and trustedIdentities: notation-go refuses either on a skip
// statement, and Flux strips both anyway (CleanTrustPolicy). Empty slices
// rather than nil keep "[]" instead of "null" in the JSON.
func toTrustPolicy(st v1alpha1.TrustPolicyStatement) trustpolicy.TrustPolicy {
	sv := trustpolicy.SignatureVerification{
		VerificationLevel: st.SignatureVerification.Level,
		VerifyTimestamp:   trustpolicy.TimestampOption(st.SignatureVerification.VerifyTimestamp),
	}
	if len(st.SignatureVerification.Override) > 0 {
		sv.Override = make(map[trustpolicy.ValidationType]trustpolicy.ValidationAction, len(st.SignatureVerification.Override))
		for k, v := range st.SignatureVerification.Override {
			sv.Override[trustpolicy.ValidationType(k)] = trustpolicy.ValidationAction(v)
		}
	}
	tp := trustpolicy.TrustPolicy{
		Name:                  st.Name,
		RegistryScopes:        append([]string{}, st.RegistryScopes...),
		SignatureVerification: sv,
		TrustStores:           []string{},
		TrustedIdentities:     []string{},
	}
	if st.SignatureVerification.Level != trustpolicy.LevelSkip.Name {
		tp.TrustedIdentities = append(tp.TrustedIdentities, st.TrustedIdentities...)
	}
	return tp
}

// checkScopes enforces notation-go's "one statement per registry scope" with
// a message that names both statements; notation-go only names the scope.
// seen maps each scope to the statement that claimed it first.
func checkScopes(st v1alpha1.TrustPolicyStatement, field string, seen map[string]string) *Error {
	own := make(map[string]bool, len(st.RegistryScopes))
	for _, scope := range st.RegistryScopes {
		if own[scope] {
			return newError(v1alpha1.ReasonInvalidTrustPolicy, field,
				"registry scope %q is listed twice", text.Truncate(scope, maxDNInMessageLen))
		}
		own[scope] = true
		if other, ok := seen[scope]; ok {
			return newError(v1alpha1.ReasonInvalidTrustPolicy, field,
				"registry scope %q is already used by statement %q: Notation allows each scope, including '*', in one statement only",
				text.Truncate(scope, maxDNInMessageLen), text.Truncate(other, maxNameLen))
		}
	}
	for scope := range own {
		seen[scope] = st.Name
	}
	return nil
}

// notationError wraps a notation-go validation error. notation-go prefixes
// statement errors with "trust policy: ", which the wrapper already says.
func notationError(field string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "trust policy: ")
	return newError(v1alpha1.ReasonInvalidTrustPolicy, field,
		"notation-go rejects the trust policy: %s", text.Truncate(msg, maxMessageLen/2))
}

// statementField names statement i, by index when it has no name.
func statementField(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("trustPolicies[%d]", i)
	}
	return trustPoliciesField(name)
}

// marshalPolicy encodes the document deterministically: struct fields keep
// their order and encoding/json sorts the override map. HTML escaping is off
// so distinguished names with '&' stay readable; indentation makes the Secret
// readable with kubectl. Both are cosmetic: Flux decodes with encoding/json.
func marshalPolicy(doc *trustpolicy.Document) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dockerHubScope returns the scope Flux would match for a Docker Hub scope
// written in a form it never produces. Flux passes notation-go the
// repository name as go-containerregistry spells it: "docker.io" becomes
// "index.docker.io", and a single-component repository gets the implicit
// "library/" namespace. notation-go compares scopes as plain strings, so
// "docker.io/nginx" validates but never applies to any artifact.
func dockerHubScope(scope string) (string, bool) {
	domain, repo, found := strings.Cut(scope, "/")
	if !found || (domain != "docker.io" && domain != "index.docker.io") {
		return "", false
	}
	want := "index.docker.io/" + repo
	if !strings.Contains(repo, "/") {
		want = "index.docker.io/library/" + repo
	}
	return want, want != scope
}
