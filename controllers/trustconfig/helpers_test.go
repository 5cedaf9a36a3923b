package trustconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// testNow is the fixed "now" of every test, so validity warnings are stable.
var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// testCert is a generated certificate with its key and encodings.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// certSet holds the certificates the tests share.
type certSet struct {
	root, second, leaf, expired, notYetValid, expiresSoon, nonCA, tsaRoot *testCert
}

var (
	fixturesOnce sync.Once
	fixturesSet  certSet
)

// fixtures generates the shared certificates once per test binary.
func fixtures(t testing.TB) certSet {
	t.Helper()
	fixturesOnce.Do(func() {
		year := 365 * 24 * time.Hour
		fixturesSet.root = mustCert(caTemplate("Test Root CA", testNow.Add(-year), testNow.Add(10*year)), nil)
		fixturesSet.second = mustCert(caTemplate("Second Root CA", testNow.Add(-year), testNow.Add(10*year)), nil)
		fixturesSet.expired = mustCert(caTemplate("Expired Root CA", testNow.Add(-2*year), testNow.Add(-year)), nil)
		fixturesSet.notYetValid = mustCert(caTemplate("Future Root CA", testNow.Add(24*time.Hour), testNow.Add(year)), nil)
		fixturesSet.expiresSoon = mustCert(caTemplate("Expiring Root CA", testNow.Add(-year), testNow.Add(10*24*time.Hour)), nil)
		fixturesSet.tsaRoot = mustCert(caTemplate("Test TSA Root", testNow.Add(-year), testNow.Add(10*year)), nil)

		leaf := baseTemplate("Test Signer", testNow.Add(-time.Hour), testNow.Add(year))
		leaf.KeyUsage = x509.KeyUsageDigitalSignature
		leaf.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
		leaf.BasicConstraintsValid = true
		fixturesSet.leaf = mustCert(leaf, fixturesSet.root)

		nonCA := baseTemplate("Self-signed Non-CA", testNow.Add(-time.Hour), testNow.Add(year))
		nonCA.KeyUsage = x509.KeyUsageDigitalSignature
		nonCA.BasicConstraintsValid = true
		fixturesSet.nonCA = mustCert(nonCA, nil)
	})
	return fixturesSet
}

var serial int64 = 1000

func baseTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	serial++
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Flux Notation Test"}, Country: []string{"DE"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
}

func caTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	tmpl := baseTemplate(cn, notBefore, notAfter)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return tmpl
}

// mustCert signs tmpl with parent's key, or self-signs when parent is nil.
func mustCert(tmpl *x509.Certificate, parent *testCert) *testCert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &testCert{cert: cert, key: key, pem: pemCert(der)}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// bundle concatenates PEM texts.
func bundle(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func strict(name string, scopes ...string) v1alpha1.TrustPolicyStatement {
	if len(scopes) == 0 {
		scopes = []string{"*"}
	}
	return v1alpha1.TrustPolicyStatement{
		Name:                  name,
		RegistryScopes:        scopes,
		SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
		TrustedIdentities:     []string{"*"},
	}
}

func skip(name string, scopes ...string) v1alpha1.TrustPolicyStatement {
	return v1alpha1.TrustPolicyStatement{
		Name:                  name,
		RegistryScopes:        scopes,
		SignatureVerification: v1alpha1.SignatureVerification{Level: "skip"},
	}
}

func caSource(name string, pemBytes []byte) Source {
	return Source{Name: name, Origin: "inline", PEM: pemBytes}
}

func typedSource(name string, typ v1alpha1.CertificateType, pemBytes []byte) Source {
	return Source{Name: name, Type: typ, Origin: "inline", PEM: pemBytes}
}

// input is a one-statement, strict, wildcard input over the given sources.
func input(sources ...Source) Input {
	return Input{Statements: []v1alpha1.TrustPolicyStatement{strict("default")}, Sources: sources, Now: testNow}
}

func warningReasons(ws []Warning) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.Reason)
	}
	return out
}
