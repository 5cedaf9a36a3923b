// Package certs makes throwaway X.509 certificates for tests and the demo:
// CAs, code-signing leaves and the odd broken certificate, all in memory.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"time"
)

// Cert is a certificate with its key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// PEM returns the certificate as a PEM block.
func (c *Cert) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM returns the private key as a PKCS#8 PEM block.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Options tune a certificate.
type Options struct {
	NotBefore, NotAfter time.Time
	// IsCA makes a CA certificate (the default for NewCA).
	IsCA bool
	// CodeSigning adds the code-signing extended key usage Notation requires.
	CodeSigning bool
	// TimeStamping adds the time-stamping extended key usage (TSA roots).
	TimeStamping bool
	// ServerAuth adds the TLS server extended key usage.
	ServerAuth bool
	// ClientAuth adds the TLS client extended key usage.
	ClientAuth bool
	// Hosts become the subject alternative names: IP addresses as IP SANs,
	// everything else as DNS names. TLS clients check these, not the CN.
	Hosts []string
}

// NewCA returns a self-signed CA valid for a year.
func NewCA(commonName string) *Cert {
	return New(commonName, nil, Options{IsCA: true})
}

// NewCodeSigner returns a leaf certificate for Notation signing, issued by ca.
func NewCodeSigner(commonName string, ca *Cert) *Cert {
	return New(commonName, ca, Options{CodeSigning: true})
}

// New returns a certificate issued by parent (self-signed when nil).
func New(commonName string, parent *Cert, o Options) *Cert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"verification-operator tests"}, Country: []string{"US"}, Province: []string{"WA"}},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
	}
	if o.IsCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	if o.CodeSigning {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageCodeSigning)
	}
	if o.TimeStamping {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageTimeStamping)
	}
	if o.ServerAuth {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if o.ClientAuth {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &Cert{Cert: cert, Key: key}
}

// NewServer returns a TLS server certificate for hosts (names or IP
// addresses), issued by ca.
func NewServer(ca *Cert, hosts ...string) *Cert {
	cn := "localhost"
	if len(hosts) > 0 {
		cn = hosts[0]
	}
	return New(cn, ca, Options{ServerAuth: true, Hosts: hosts})
}

// NewClient returns a TLS client certificate issued by ca, for registries
// that require mutual TLS.
func NewClient(commonName string, ca *Cert) *Cert {
	return New(commonName, ca, Options{ClientAuth: true})
}

// TLSCertificate returns c with its key for a tls.Config, followed by the
// intermediates a peer needs to build the chain.
func (c *Cert) TLSCertificate(intermediates ...*Cert) tls.Certificate {
	tc := tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
	for _, i := range intermediates {
		tc.Certificate = append(tc.Certificate, i.Cert.Raw)
	}
	return tc
}

// Bundle concatenates the PEM blocks of certs in order, as a CA bundle file
// would hold them.
func Bundle(certs ...*Cert) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, c.PEM()...)
	}
	return out
}
