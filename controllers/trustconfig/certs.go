package trustconfig

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
)

const (
	// certificateBlockType is the only PEM block type a source may hold.
	certificateBlockType = "CERTIFICATE"
	// maxBlockTypeLen bounds a PEM label quoted in a message.
	maxBlockTypeLen = 40
)

// pemBegin marks the start of every PEM block. It is matched without the
// trailing space and anywhere on a line, which is looser than encoding/pem:
// anything that looks like the start of a block is treated as one, so a
// damaged block is reported instead of skipped.
var pemBegin = []byte("-----BEGIN")

var utf8BOM = []byte("\xef\xbb\xbf")

// parsed is one certificate of a source, with the object of the part it
// came from ("" for a source without parts).
type parsed struct {
	cert *x509.Certificate
	part string
}

// origin names where the certificate came from in messages.
func (p parsed) origin(src *Source) string {
	if p.part != "" {
		return p.part
	}
	return src.Origin
}

// parseParts parses a source's PEM, or each of its parts in order, each
// part's blocks counted and its lines numbered on their own, so a message
// points into the object that holds the block.
func parseParts(src Source) ([]parsed, *Error) {
	if len(src.Parts) == 0 {
		certs, err := parseSource(src)
		out := make([]parsed, len(certs))
		for i, c := range certs {
			out[i] = parsed{cert: c}
		}
		return out, err
	}
	var out []parsed
	for _, part := range src.Parts {
		one := src
		one.Origin, one.PEM, one.Parts = part.Object, part.PEM, nil
		certs, err := parseSource(one)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			out = append(out, parsed{cert: c, part: part.Object})
		}
	}
	return out, nil
}

// parseSource splits the PEM text of one source into its certificates, in
// order. Text outside PEM blocks (the comments of CA bundles) is ignored;
// every PEM block must be a CERTIFICATE that parses as X.509.
func parseSource(src Source) ([]*x509.Certificate, *Error) {
	field := certificatesField(src.Name)
	origin := fromOrigin(src.Origin)
	// Editors on Windows may save a byte order mark, which would hide the
	// first block from encoding/pem (a block must start a line).
	data := bytes.TrimPrefix(src.PEM, utf8BOM)

	// Private keys are looked for before anything else, including damaged
	// blocks, so a pasted key is always reported as such (and never quoted)
	// even when another problem comes first in the text.
	if err := rejectPrivateKeys(data, field, src.Origin); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, newError(v1alpha1.ReasonInvalidCertificate, field,
			"the certificate source is empty%s: it must hold at least one PEM certificate (-----BEGIN CERTIFICATE-----)", origin)
	}

	var certs []*x509.Certificate
	rest := data
	for {
		offset := len(data) - len(rest)
		block, next := pem.Decode(rest)
		if block == nil {
			// encoding/pem gives up quietly on a block without a valid END
			// line or with bad base64. A truncated paste must not lose its
			// last certificate silently.
			if i := bytes.Index(rest, pemBegin); i >= 0 {
				return nil, malformedBlock(field, data, offset+i, len(certs)+1, src.Origin)
			}
			break
		}
		consumed := rest[:len(rest)-len(next)]
		start := bytes.Index(consumed, pemBegin)
		// encoding/pem also skips a damaged block when a good one follows:
		// two block starts in what it consumed means one was dropped.
		if bytes.Count(consumed, pemBegin) > 1 {
			return nil, malformedBlock(field, data, offset+start, len(certs)+1, src.Origin)
		}
		n, line := len(certs)+1, lineOf(data, offset+start)

		if block.Type != certificateBlockType {
			return nil, wrongBlockType(field, blockAt(n, line, src.Origin), block)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			if isPrivateKeyDER(block.Bytes) {
				return nil, privateKeyError(field, blockAt(n, line, src.Origin))
			}
			return nil, newError(v1alpha1.ReasonInvalidCertificate, field,
				"%s is labelled CERTIFICATE but is not a valid X.509 certificate: %s",
				blockAt(n, line, src.Origin), text.Truncate(err.Error(), 200))
		}
		if src.RequireCA && (!cert.BasicConstraintsValid || !cert.IsCA) {
			return nil, newError(v1alpha1.ReasonInvalidCertificate, field,
				"%s (subject %q) is not a CA certificate (basicConstraints CA:TRUE is missing): a ClusterTrustBundle holds trust anchors only",
				blockAt(n, line, src.Origin), text.Truncate(cert.Subject.String(), maxDNInMessageLen))
		}
		certs = append(certs, cert)
		rest = next
	}

	if len(certs) == 0 {
		if _, err := x509.ParseCertificates(data); err == nil {
			return nil, newError(v1alpha1.ReasonInvalidCertificate, field,
				"the certificate source holds binary DER, not PEM%s: convert it, for example with 'openssl x509 -inform der -in cert.der -out cert.pem'", origin)
		}
		return nil, newError(v1alpha1.ReasonInvalidCertificate, field,
			"no PEM block found%s: the source must hold PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)", origin)
	}
	return certs, nil
}

// rejectPrivateKeys fails on any block whose label says it is a private key
// (PRIVATE KEY, RSA/EC PRIVATE KEY, ENCRYPTED PRIVATE KEY, OPENSSH PRIVATE
// KEY, PGP PRIVATE KEY BLOCK, ...), well-formed or not. Only the block
// number and line are reported: the key itself must never reach a status
// condition, an event or a log.
func rejectPrivateKeys(data []byte, field, origin string) *Error {
	n, off := 0, 0
	for {
		i := bytes.Index(data[off:], pemBegin)
		if i < 0 {
			return nil
		}
		n++
		start := off + i
		off = start + len(pemBegin)
		if strings.Contains(strings.ToUpper(blockLabel(data[off:])), "PRIVATE") {
			return privateKeyError(field, blockAt(n, lineOf(data, start), origin))
		}
	}
}

// blockLabel returns the label after "-----BEGIN" up to the closing dashes or
// the end of the line, whichever comes first.
func blockLabel(afterBegin []byte) string {
	line := afterBegin
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	if i := bytes.Index(line, []byte("-----")); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(string(line))
}

// isPrivateKeyDER reports whether der is an unencrypted private key in one of
// the encodings Go knows, to catch a key relabelled as CERTIFICATE.
func isPrivateKeyDER(der []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParseECPrivateKey(der); err == nil {
		return true
	}
	return false
}

// blockAt names PEM block n, starting at line, of a source in messages:
// "PEM block 2 (line 13 of Secret trust/roots key ca.pem)".
func blockAt(n, line int, origin string) string {
	if origin == "" {
		return fmt.Sprintf("PEM block %d (line %d)", n, line)
	}
	return fmt.Sprintf("PEM block %d (line %d of %s)", n, line, text.Truncate(origin, maxOriginLen))
}

func privateKeyError(field, where string) *Error {
	return newError(v1alpha1.ReasonPrivateKeyRejected, field,
		"%s is a private key, which is refused and not shown: a trust configuration holds certificates only. "+
			"Remove the key from the source, and consider it compromised if it was shared",
		where)
}

// malformedBlock reports the damaged block n that starts at offset pos.
func malformedBlock(field string, data []byte, pos, n int, origin string) *Error {
	where := blockAt(n, lineOf(data, pos), origin)
	if pos > 0 && data[pos-1] != '\n' {
		return newError(v1alpha1.ReasonInvalidCertificate, field,
			"%s does not start at the beginning of a line: remove the indentation or text before -----BEGIN", where)
	}
	return newError(v1alpha1.ReasonInvalidCertificate, field,
		"%s is truncated or malformed: check that it ends with a matching -----END ...----- line and that its base64 is intact",
		where)
}

func wrongBlockType(field, where string, block *pem.Block) *Error {
	if isPrivateKeyDER(block.Bytes) {
		return privateKeyError(field, where)
	}
	hint := "only CERTIFICATE blocks are accepted"
	if block.Type == "TRUSTED CERTIFICATE" {
		hint = "this OpenSSL-specific format is not accepted; convert it with 'openssl x509 -in in.pem -out out.pem'"
	}
	return newError(v1alpha1.ReasonInvalidCertificate, field,
		"%s is a %q block, not a certificate: %s",
		where, text.Truncate(block.Type, maxBlockTypeLen), hint)
}
