package trustconfig

import (
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
)

// ProviderNotation is the OCIRepository spec.verify.provider that reads the
// Secrets this package renders; it is part of FluxFingerprint's input.
const ProviderNotation = "notation"

// nul separates the fields of both digests, so no concatenation of keys and
// values can collide with a different split of the same bytes (a key or a
// certificate never contains NUL; a trust policy is JSON text).
const nul = "\x00"

// TrustDigest returns the digest of arbitrary Secret data, "sha256:<hex>".
// It is computed over the entries in ascending key order, each written as
// key, NUL, value, NUL. It depends on every key and value, so comparing it
// with the digest recorded on a Secret detects any drift, including an added
// or renamed key, without comparing payloads.
func TrustDigest(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	d := digest.SHA256.Digester()
	h := d.Hash()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte(nul))
		h.Write(data[k])
		h.Write([]byte(nul))
	}
	return d.Digest().String()
}

// FluxFingerprint returns the value source-controller v1.10+ records in an
// OCIRepository's status.sourceVerificationFingerprint after verifying with
// this Secret data, so the operator can tell whether Flux has verified
// against the current trust material. The algorithm mirrors Flux's: the
// canonical sha256 digest of
//
//	"provider:" + provider + NUL
//	"trustpolicy:" + data["trustpolicy.json"] + NUL   (only if the key exists)
//	"cert:" + value + NUL                              (for each value whose key
//	                                                    ends in .crt or .pem,
//	                                                    values sorted as strings)
//
// Key names other than trustpolicy.json do not matter, nor does the Secret's
// name; other keys are ignored.
func FluxFingerprint(provider string, data map[string][]byte) string {
	var certs []string
	for k, v := range data {
		if isCertificateKey(k) {
			certs = append(certs, string(v))
		}
	}
	sort.Strings(certs)

	d := digest.SHA256.Digester()
	h := d.Hash()
	h.Write([]byte("provider:" + provider + nul))
	if tp, ok := data[TrustPolicyKey]; ok {
		h.Write([]byte("trustpolicy:"))
		h.Write(tp)
		h.Write([]byte(nul))
	}
	for _, c := range certs {
		h.Write([]byte("cert:" + c + nul))
	}
	return d.Digest().String()
}

// isCertificateKey reports whether Flux reads the key as a certificate.
func isCertificateKey(key string) bool {
	return strings.HasSuffix(key, ".crt") || strings.HasSuffix(key, ".pem")
}
