package trustconfig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// expectError asserts err is an *Error with the given reason and field.
func expectError(g *WithT, err error, reason, field string) *Error {
	g.ExpectWithOffset(1, err).To(HaveOccurred())
	var e *Error
	g.ExpectWithOffset(1, errors.As(err, &e)).To(BeTrue(), "error %T is not *Error", err)
	g.ExpectWithOffset(1, e.Reason).To(Equal(reason), e.Error())
	g.ExpectWithOffset(1, e.Field).To(Equal(field), e.Error())
	g.ExpectWithOffset(1, len(e.Message)).To(BeNumerically("<=", maxMessageLen))
	g.ExpectWithOffset(1, e.Error()).To(HavePrefix(field + ": "))
	return e
}

func TestRenderRejectsBadCertificateInput(t *testing.T) {
	f := fixtures(t)
	root, second := f.root.pem, f.second.pem
	truncated := root[:len(root)-len("-----END CERTIFICATE-----\n")]
	badBase64 := bytes.Replace(root, []byte("MII"), []byte("M!I"), 1)
	garbageCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not a certificate")})
	pubKeyDER, err := x509.MarshalPKIXPublicKey(&f.root.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		pem     []byte
		contain []string
	}{
		{name: "empty", pem: nil, contain: []string{"empty"}},
		{name: "whitespace only", pem: []byte(" \n\t\n"), contain: []string{"empty"}},
		{name: "no PEM block", pem: []byte("hello, I am not a certificate\n"), contain: []string{"no PEM block"}},
		{name: "raw DER", pem: f.root.cert.Raw, contain: []string{"DER"}},
		{name: "CERTIFICATE that is not X.509", pem: garbageCert, contain: []string{"PEM block 1 (line 1 of Secret trust/roots key ca.pem)", "not a valid X.509"}},
		{name: "truncated block after a valid one", pem: bundle(root, truncated), contain: []string{"PEM block 2", "truncated or malformed"}},
		{name: "truncated block between valid ones", pem: bundle(root, truncated, second), contain: []string{"PEM block 2", "truncated or malformed"}},
		{name: "bad base64 before a valid block", pem: bundle(badBase64, second), contain: []string{"PEM block 1 (line 1 of Secret trust/roots key ca.pem)", "truncated or malformed"}},
		{name: "indented block", pem: bundle(root, []byte("  "), second), contain: []string{fmt.Sprintf("PEM block 2 (line %d ", bytes.Count(root, []byte("\n"))+1), "does not start at the beginning of a line"}},
		{name: "missing END only", pem: []byte("-----BEGIN CERTIFICATE-----\nMIIB\n"), contain: []string{"PEM block 1", "truncated"}},
		{name: "public key", pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubKeyDER}), contain: []string{`"PUBLIC KEY"`, "not a certificate"}},
		{name: "certificate request", pem: bundle(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1, 2}})), contain: []string{"PEM block 2", "CERTIFICATE REQUEST"}},
		{name: "OpenSSL trusted certificate", pem: pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: f.root.cert.Raw}), contain: []string{"openssl x509"}},
		{name: "certificate with trailing data", pem: pemCert(append(append([]byte{}, f.root.cert.Raw...), 0, 0)), contain: []string{"not a valid X.509"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Render(input(Source{Name: "roots", Origin: "Secret trust/roots key ca.pem", PEM: tt.pem}))
			e := expectError(g, err, v1alpha1.ReasonInvalidCertificate, "certificates[roots]")
			g.Expect(e.Message).To(ContainSubstring("Secret trust/roots key ca.pem"))
			for _, s := range tt.contain {
				g.Expect(e.Message).To(ContainSubstring(s))
			}
		})
	}
}

func TestRenderRejectsPrivateKeys(t *testing.T) {
	f := fixtures(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey)
	encrypted := make([]byte, 300)
	if _, err := rand.Read(encrypted); err != nil {
		t.Fatal(err)
	}
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	pkcs8PEM := block("PRIVATE KEY", pkcs8)

	tests := []struct {
		name string
		pem  []byte
		der  []byte // the secret whose base64 must not be echoed
		n    string // "PEM block <n>" expected in the message
	}{
		{name: "PKCS#8", pem: pkcs8PEM, der: pkcs8, n: "PEM block 1"},
		{name: "SEC 1 EC key", pem: block("EC PRIVATE KEY", sec1), der: sec1, n: "PEM block 1"},
		{name: "PKCS#1 RSA key", pem: block("RSA PRIVATE KEY", pkcs1), der: pkcs1, n: "PEM block 1"},
		{name: "encrypted PKCS#8", pem: block("ENCRYPTED PRIVATE KEY", encrypted), der: encrypted, n: "PEM block 1"},
		{name: "OpenSSH key", pem: block("OPENSSH PRIVATE KEY", encrypted), der: encrypted, n: "PEM block 1"},
		{name: "key after certificates", pem: bundle(f.root.pem, f.second.pem, pkcs8PEM), der: pkcs8, n: "PEM block 3"},
		{name: "key before a broken certificate", pem: bundle([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n"), pkcs8PEM), der: pkcs8, n: "PEM block 2"},
		{name: "truncated key", pem: pkcs8PEM[:len(pkcs8PEM)/2], der: pkcs8, n: "PEM block 1"},
		{name: "key labelled CERTIFICATE", pem: block("CERTIFICATE", pkcs8), der: pkcs8, n: "PEM block 1"},
		{name: "RSA key labelled KEY", pem: block("KEY", pkcs1), der: pkcs1, n: "PEM block 1"},
		{name: "lower-case label", pem: block("ec private key", sec1), der: sec1, n: "PEM block 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Render(input(caSource("leaked", tt.pem)))
			e := expectError(g, err, v1alpha1.ReasonPrivateKeyRejected, "certificates[leaked]")
			g.Expect(e.Message).To(ContainSubstring(tt.n))
			g.Expect(e.Message).To(ContainSubstring("not shown"))
			expectNoSecretEchoed(g, e.Error(), tt.der)
		})
	}
}

// expectNoSecretEchoed fails when msg contains any 12-character window of
// der's base64 encoding, nor any of its PEM lines.
func expectNoSecretEchoed(g *WithT, msg string, der []byte) {
	b64 := base64.StdEncoding.EncodeToString(der)
	const window = 12
	for i := 0; i+window <= len(b64); i++ {
		g.ExpectWithOffset(1, msg).NotTo(ContainSubstring(b64[i:i+window]), "message echoes key material")
	}
}

func TestRenderAcceptsBundleText(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		name string
		pem  []byte
		keys []string
	}{
		{
			name: "comments between and around blocks",
			pem: bundle([]byte("# Team roots, rotated yearly\nSubject: CN=Test Root CA\n"), f.root.pem,
				[]byte("\n# second root\n\n"), f.second.pem, []byte("# end of bundle\n")),
			keys: []string{"bundle-1.crt", "bundle-2.crt"},
		},
		{
			name: "CRLF line endings",
			pem:  bytes.ReplaceAll(bundle(f.root.pem, f.second.pem), []byte("\n"), []byte("\r\n")),
			keys: []string{"bundle-1.crt", "bundle-2.crt"},
		},
		{
			name: "byte order mark",
			pem:  bundle([]byte("\xef\xbb\xbf"), f.root.pem),
			keys: []string{"bundle.crt"},
		},
		{
			name: "no trailing newline",
			pem:  bytes.TrimRight(f.root.pem, "\n"),
			keys: []string{"bundle.crt"},
		},
		{
			name: "stray END line in a comment",
			pem:  bundle([]byte("-----END CERTIFICATE-----\n"), f.root.pem),
			keys: []string{"bundle.crt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			res, err := Render(input(caSource("bundle", tt.pem)))
			g.Expect(err).NotTo(HaveOccurred())
			var keys []string
			for _, c := range res.Certificates {
				keys = append(keys, c.Key)
			}
			g.Expect(keys).To(Equal(tt.keys))
		})
	}
}

func TestRenderRejectsBadSources(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		name    string
		sources []Source
		reason  string
		field   string
	}{
		{name: "no sources", sources: nil, reason: v1alpha1.ReasonInvalidCertificate, field: "certificates"},
		{name: "empty name", sources: []Source{caSource("ok", f.root.pem), caSource("", f.second.pem)}, reason: v1alpha1.ReasonInvalidSpec, field: "certificates[1]"},
		{name: "path in name", sources: []Source{caSource("../x", f.root.pem)}, reason: v1alpha1.ReasonInvalidSpec, field: "certificates[../x]"},
		{name: "upper case name", sources: []Source{caSource("Roots", f.root.pem)}, reason: v1alpha1.ReasonInvalidSpec, field: "certificates[Roots]"},
		{name: "name too long", sources: []Source{caSource(strings.Repeat("a", 64), f.root.pem)}, reason: v1alpha1.ReasonInvalidSpec, field: "certificates[" + strings.Repeat("a", 64) + "]"},
		{name: "unknown type", sources: []Source{typedSource("roots", "x509", f.root.pem)}, reason: v1alpha1.ReasonInvalidSpec, field: "certificates[roots]"},
		{name: "second source broken", sources: []Source{caSource("a", f.root.pem), caSource("b", []byte("junk"))}, reason: v1alpha1.ReasonInvalidCertificate, field: "certificates[b]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Render(input(tt.sources...))
			expectError(g, err, tt.reason, tt.field)
		})
	}
}
