package trustconfig

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
)

// TrustPolicyKey is the Secret key Flux reads the trust policy from.
const TrustPolicyKey = "trustpolicy.json"

// Source is one resolved certificate source of the spec.
type Source struct {
	// Name is spec.certificates[].name, the stem of its Secret keys.
	Name string
	// Type is the trust store type; "" means ca.
	Type v1alpha1.CertificateType
	// Origin says where the PEM came from, for messages only, for example
	// "inline" or "Secret trust-ns/roots key ca.pem".
	Origin string
	// FromObject is true when the PEM was read from a Secret or ConfigMap:
	// an error in it is fixed by editing that object, not the policy.
	FromObject bool
	// PEM is the source's content: one or more PEM certificates, with any
	// text between the blocks.
	PEM []byte
	// Parts, when set, replace PEM for a source gathered from several
	// objects (the ClusterTrustBundles of a signer, in name order): the
	// source's certificates are those of every part, in order, keyed
	// <name>-1.crt, <name>-2.crt, ... across the parts, and each
	// certificate's status and messages name the object of its part.
	Parts []Part
	// RequireCA refuses a certificate without basicConstraints CA:TRUE
	// (ReasonInvalidCertificate) rather than warning about it: a
	// ClusterTrustBundle holds trust anchors only, as the API server itself
	// requires of every bundle it accepts.
	RequireCA bool
}

// Part is one object's share of a Source.
type Part struct {
	// Object names it, for status and messages, for example
	// "ClusterTrustBundle example.com:roots:g2".
	Object string
	// PEM is its content, as Source.PEM.
	PEM []byte
}

// Input is everything Render needs.
type Input struct {
	// Statements are spec.trustPolicies, written in this order.
	Statements []v1alpha1.TrustPolicyStatement
	// Sources are spec.certificates with their content resolved, in spec
	// order. Key names and deduplication follow this order.
	Sources []Source
	// Now is the time validity warnings are computed for; zero means
	// time.Now(). Tests set it to get stable warnings.
	Now time.Time
}

// Result is the rendered trust configuration.
type Result struct {
	// Data is the Secret data: TrustPolicyKey plus one PEM certificate per key.
	Data map[string][]byte
	// TrustDigest is TrustDigest(Data).
	TrustDigest string
	// FluxFingerprint is FluxFingerprint(ProviderNotation, Data).
	FluxFingerprint string
	// Certificates summarise the written certificates, in key order of
	// production (sources in spec order, certificates in PEM order).
	Certificates []v1alpha1.CertificateStatus
	// Warnings, in a stable order: duplicates as found, then per-certificate
	// checks in the order of Certificates, then trust store type and policy
	// warnings.
	Warnings []Warning
}

// sourceNamePattern is the CRD's pattern for spec.certificates[].name. It is
// checked again because the name becomes a Secret key: with the API server's
// validation bypassed (a test, a future caller) a name like "../x" must not
// produce an invalid or surprising key.
var sourceNamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

const maxSourceNameLen = 63

// written is one certificate that goes into the Secret.
type written struct {
	key    string
	source *Source
	// part is the object of the source's part it came from, if any.
	part string
	typ  v1alpha1.CertificateType
	cert *x509.Certificate
	pem  []byte
}

// duplicate is a certificate dropped because an identical one came first.
type duplicate struct {
	source *Source
	origin string
	cert   *x509.Certificate
	first  *written
}

// Render turns the spec statements and resolved certificate sources into
// the Secret data Flux reads, or returns an *Error naming the offending
// source or statement. The rules:
//
//   - Each source must hold PEM CERTIFICATE blocks only (text between blocks
//     is ignored). A private key anywhere fails with ReasonPrivateKeyRejected
//     and is never quoted; an empty source, no PEM block, a damaged block or
//     a block that is not X.509 fails with ReasonInvalidCertificate.
//   - Identical certificates (same DER) are written once, first come first
//     served, with a DuplicateCertificate warning.
//   - A source writing one certificate uses the key <name>.crt, else
//     <name>-1.crt, <name>-2.crt, ... in PEM order. Two sources producing
//     the same key fail with ReasonDuplicateKey.
//   - trustpolicy.json holds the statements in spec order, trust stores
//     derived from the certificate types (see storeTypes.trustStores), and
//     must pass notation-go's Validate; failures are ReasonInvalidTrustPolicy.
//   - The sum of the data values may not exceed corev1.MaxSecretSize
//     (ReasonSecretTooLarge).
//   - Validity, CA flag, type mixing and scope problems are warnings.
func Render(in Input) (*Result, error) {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	if len(in.Sources) == 0 {
		return nil, newError(v1alpha1.ReasonInvalidCertificate, "certificates",
			"no certificate source: Flux refuses a Secret without certificates")
	}

	var (
		out            []*written
		dups           []duplicate
		types          storeTypes
		tsaSources     []string
		signingSources []string
		bySum          = make(map[[sha256.Size]byte]*written)
		keyOwner       = make(map[string]string)
	)
	for i := range in.Sources {
		src := &in.Sources[i]
		typ, err := checkSource(i, src)
		if err != nil {
			return nil, err
		}
		certs, err := parseParts(*src)
		if err != nil {
			return nil, fixedBy(err, src)
		}

		// Store types follow every source, including one whose certificates
		// all turned out to be duplicates: its author still asked for that
		// type of trust.
		switch typ {
		case v1alpha1.CertificateTypeCA:
			types.ca = true
			signingSources = append(signingSources, src.Name)
		case v1alpha1.CertificateTypeSigningAuthority:
			types.signingAuthority = true
			signingSources = append(signingSources, src.Name)
		case v1alpha1.CertificateTypeTSA:
			types.tsa = true
			tsaSources = append(tsaSources, src.Name)
		}

		// Identical certificates are written once: a second copy adds no
		// trust (Flux trusts each certificate for every store anyway) and
		// would only add keys and bytes.
		var kept []*written
		for _, c := range certs {
			cert := c.cert
			sum := sha256.Sum256(cert.Raw)
			if first, ok := bySum[sum]; ok {
				dups = append(dups, duplicate{source: src, origin: c.origin(src), cert: cert, first: first})
				continue
			}
			w := &written{source: src, part: c.part, typ: typ, cert: cert}
			bySum[sum] = w
			kept = append(kept, w)
		}
		for j, w := range kept {
			w.key = certificateKey(src.Name, j, len(kept))
			if owner, taken := keyOwner[w.key]; taken {
				// The number of certificates a source holds decides its keys.
				return nil, fixedBy(duplicateKeyError(w.key, owner, src.Name), src)
			}
			keyOwner[w.key] = src.Name
			w.pem = pem.EncodeToMemory(&pem.Block{Type: certificateBlockType, Bytes: w.cert.Raw})
			out = append(out, w)
		}
	}

	doc, policyWarnings, perr := buildPolicy(in.Statements, types)
	if perr != nil {
		return nil, perr
	}
	policyJSON, err := marshalPolicy(doc)
	if err != nil {
		return nil, newError(v1alpha1.ReasonInvalidTrustPolicy, "trustPolicies", "cannot encode the trust policy: %v", err)
	}

	data := make(map[string][]byte, len(out)+1)
	data[TrustPolicyKey] = policyJSON
	for _, w := range out {
		data[w.key] = w.pem
	}
	if err := checkSize(data, out); err != nil {
		return nil, err
	}

	res := &Result{
		Data:            data,
		TrustDigest:     TrustDigest(data),
		FluxFingerprint: FluxFingerprint(ProviderNotation, data),
	}
	for _, d := range dups {
		res.Warnings = append(res.Warnings, duplicateWarning(d.source.Name, d.origin, d.cert, d.first.key, d.first.source.Name))
	}
	for _, w := range out {
		res.Certificates = append(res.Certificates, summarize(w))
		res.Warnings = append(res.Warnings, certificateWarnings(w.key, w.cert, now)...)
	}
	if types.tsa && types.signingRoots() {
		res.Warnings = append(res.Warnings, mixedTypesWarning(tsaSources, signingSources))
	}
	if types.tsa && !types.ca && types.signingAuthority {
		res.Warnings = append(res.Warnings, tsaUnusedWarning(tsaSources))
	}
	res.Warnings = append(res.Warnings, policyWarnings...)
	return res, nil
}

// checkSource validates the name and type of source i and returns its type
// with the default applied.
func checkSource(i int, src *Source) (v1alpha1.CertificateType, *Error) {
	field := certificatesField(src.Name)
	if src.Name == "" {
		field = fmt.Sprintf("certificates[%d]", i)
	}
	if len(src.Name) > maxSourceNameLen || !sourceNamePattern.MatchString(src.Name) {
		return "", newError(v1alpha1.ReasonInvalidSpec, field,
			"certificate source name %q is not a lowercase DNS label of at most %d characters; it becomes the Secret key <name>.crt",
			text.Truncate(src.Name, maxNameLen), maxSourceNameLen)
	}
	switch src.Type {
	case "":
		return v1alpha1.CertificateTypeCA, nil
	case v1alpha1.CertificateTypeCA, v1alpha1.CertificateTypeSigningAuthority, v1alpha1.CertificateTypeTSA:
		return src.Type, nil
	default:
		return "", newError(v1alpha1.ReasonInvalidSpec, field,
			"certificate type %q is not one of ca, signingAuthority or tsa", text.Truncate(string(src.Type), maxNameLen))
	}
}

// certificateKey names certificate j of the n a source writes: <name>.crt
// for a single certificate, else <name>-1.crt, <name>-2.crt, ... in PEM
// order. One certificate per key, because Flux reads only the first PEM
// block of a key.
func certificateKey(name string, j, n int) string {
	if n == 1 {
		return name + ".crt"
	}
	return fmt.Sprintf("%s-%d.crt", name, j+1)
}

func duplicateKeyError(key, owner, name string) *Error {
	if owner == name {
		return newError(v1alpha1.ReasonDuplicateKey, certificatesField(name),
			"two certificate sources are named %s: source names must be unique", text.Truncate(name, maxNameLen))
	}
	return newError(v1alpha1.ReasonDuplicateKey, certificatesField(name),
		"Secret key %s is produced both by source %s and by source %s (a source with several certificates writes <name>-1.crt, <name>-2.crt, ...): rename one of them",
		text.Truncate(key, maxNameLen+8), text.Truncate(owner, maxNameLen), text.Truncate(name, maxNameLen))
}

// checkSize enforces the API server's limit on the sum of a Secret's data
// values (corev1.MaxSecretSize, 1 MiB). Failing here gives a message that
// says what to remove, instead of a rejected write in every namespace.
func checkSize(data map[string][]byte, out []*written) *Error {
	total := 0
	for _, v := range data {
		total += len(v)
	}
	if total <= corev1.MaxSecretSize {
		return nil
	}
	bySource := make(map[string]int)
	var largest string
	for _, w := range out {
		bySource[w.source.Name] += len(w.pem)
		if largest == "" || bySource[w.source.Name] > bySource[largest] {
			largest = w.source.Name
		}
	}
	return newError(v1alpha1.ReasonSecretTooLarge, "certificates",
		"the rendered Secret data is %d bytes, over the %d-byte limit of a Kubernetes Secret: it holds %d certificates, "+
			"the largest share (%d bytes) from source %s. Remove certificates that are not needed",
		total, corev1.MaxSecretSize, len(out), bySource[largest], text.Truncate(largest, maxNameLen))
}

// summarize describes one written certificate for the policy status.
func summarize(w *written) v1alpha1.CertificateStatus {
	sum := sha256.Sum256(w.cert.Raw)
	source := w.source.Name
	if w.part != "" {
		source += " (" + text.Truncate(w.part, maxOriginLen) + ")"
	}
	return v1alpha1.CertificateStatus{
		Key:       w.key,
		Type:      w.typ,
		Source:    source,
		Subject:   text.Truncate(w.cert.Subject.String(), maxDNLen),
		Issuer:    text.Truncate(w.cert.Issuer.String(), maxDNLen),
		NotBefore: metav1.NewTime(w.cert.NotBefore),
		NotAfter:  metav1.NewTime(w.cert.NotAfter),
		SHA256:    hex.EncodeToString(sum[:]),
	}
}
