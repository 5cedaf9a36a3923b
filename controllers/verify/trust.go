package verify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"

	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// trustMaterial is the Secret data read the way source-controller reads it.
type trustMaterial struct {
	policy *trustpolicy.Document
	certs  [][]byte
}

// readTrust mirrors source-controller's verifySignature: the policy under
// trustpolicy.json decoded with encoding/json (unknown fields ignored), and
// the raw value of every key ending in .crt or .pem. Certificates are not
// parsed here: Flux parses them only when notation-go asks for a trust
// store, so a broken certificate fails verification, not configuration.
// The error messages are Flux's, without the Secret's name, which the
// caller knows.
func readTrust(data map[string][]byte) (*trustMaterial, error) {
	raw, ok := data[trustconfig.TrustPolicyKey]
	if !ok {
		return nil, fmt.Errorf("'%s' not found in secret", trustconfig.TrustPolicyKey)
	}
	var doc trustpolicy.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("error occurred while parsing %s: %w", trustconfig.TrustPolicyKey, err)
	}

	// Flux ranges over the map; sorting only makes messages deterministic,
	// the set of certificates is the same.
	keys := make([]string, 0, len(data))
	for k := range data {
		if strings.HasSuffix(k, ".crt") || strings.HasSuffix(k, ".pem") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no certificates found in secret")
	}
	sort.Strings(keys)
	certs := make([][]byte, 0, len(keys))
	for _, k := range keys {
		certs = append(certs, data[k])
	}
	return &trustMaterial{policy: cleanPolicy(&doc), certs: certs}, nil
}

// cleanPolicy does what Flux's CleanTrustPolicy does before validation:
// statements at level skip lose their trust stores and trusted identities,
// which notation-go would otherwise reject for a skip statement.
func cleanPolicy(doc *trustpolicy.Document) *trustpolicy.Document {
	for i, s := range doc.TrustPolicies {
		if s.SignatureVerification.VerificationLevel == trustpolicy.LevelSkip.Name {
			doc.TrustPolicies[i].TrustStores = []string{}
			doc.TrustPolicies[i].TrustedIdentities = []string{}
		}
	}
	return doc
}

// newNotationVerifier builds the verifier exactly as Flux does:
// verifier.New validates the policy and installs notation-go's default
// revocation validators; the nil plugin manager makes signatures that need
// a plugin inconclusive.
func (t *trustMaterial) newNotationVerifier() (notation.Verifier, error) {
	return verifier.New(t.policy, fluxTrustStore{certs: t.certs}, nil)
}

// fluxTrustStore is source-controller's in-memory trust store: it ignores
// the store type and name and returns every certificate, reading only the
// first PEM block of each value (a value without PEM is parsed as DER).
type fluxTrustStore struct{ certs [][]byte }

var _ truststore.X509TrustStore = fluxTrustStore{}

func (s fluxTrustStore) GetCertificates(_ context.Context, _ truststore.Type, namedStore string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, data := range s.certs {
		raw := data
		if block, _ := pem.Decode(raw); block != nil {
			raw = block.Bytes
		}
		certs, err := x509.ParseCertificates(raw)
		if err != nil {
			return nil, &certificateParseError{store: namedStore, err: err}
		}
		out = append(out, certs...)
	}
	return out, nil
}

// certificateParseError is Flux's "failed to parse certificate" error, typed
// so that the failure is reported as a configuration problem rather than as
// an untrusted signer.
type certificateParseError struct {
	store string
	err   error
}

func (e *certificateParseError) Error() string {
	return fmt.Sprintf("failed to parse certificate '%s': %s", e.store, e.err)
}

func (e *certificateParseError) Unwrap() error { return e.err }
