package trustconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"testing"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	corev1 "k8s.io/api/core/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// FuzzRender feeds arbitrary bytes as a certificate source and an arbitrary
// statement name through Render. It must never panic; an error must be a
// bounded *Error; a result must be valid as Flux reads it and deterministic.
func FuzzRender(f *testing.F) {
	fx := fixtures(f)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})

	seeds := []struct {
		pem  []byte
		name string
	}{
		{fx.root.pem, "default"},
		{bundle([]byte("# bundle\n"), fx.root.pem, []byte("\n# two\n"), fx.second.pem), "prod"},
		{bundle(fx.root.pem, fx.root.pem), "dup"},
		{bundle(fx.leaf.pem, fx.expired.pem, fx.nonCA.pem), "warnings"},
		{keyPEM, "key"},
		{bundle(fx.root.pem, keyPEM), "key-after-cert"},
		{keyPEM[:len(keyPEM)/2], "truncated-key"},
		{fx.root.pem[:len(fx.root.pem)-10], "truncated"},
		{bundle(fx.root.pem, fx.second.pem[:200]), "truncated-second"},
		{[]byte("garbage\x00\xff\xfe"), "garbage"},
		{fx.root.cert.Raw, "der"},
		{nil, ""},
		{[]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), "empty-block"},
		{[]byte("-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END CERTIFICATE-----\n"), "headers"},
		{[]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), "crl"},
		{fx.root.pem, "a b"},
		{fx.root.pem, "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(s.pem, s.name)
	}

	f.Fuzz(func(t *testing.T, pemBytes []byte, statementName string) {
		in := Input{
			Statements: []v1alpha1.TrustPolicyStatement{
				strict(statementName),
				skip("off", "localhost:5000/off"),
			},
			Sources: []Source{
				{Name: "fuzz", Origin: "inline", PEM: pemBytes},
				{Name: "tsa", Type: v1alpha1.CertificateTypeTSA, PEM: fx.tsaRoot.pem},
			},
			Now: testNow,
		}
		res, err := Render(in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if e.Reason == "" || e.Message == "" {
				t.Fatalf("incomplete error: %#v", e)
			}
			if len(e.Message) > maxMessageLen {
				t.Fatalf("message of %d bytes", len(e.Message))
			}
			return
		}

		var doc trustpolicy.Document
		if err := json.Unmarshal(res.Data[TrustPolicyKey], &doc); err != nil {
			t.Fatalf("trustpolicy.json does not decode: %v", err)
		}
		if err := doc.Validate(); err != nil {
			t.Fatalf("trustpolicy.json does not validate: %v", err)
		}
		total := 0
		for k, v := range res.Data {
			total += len(v)
			if k == TrustPolicyKey {
				continue
			}
			block, rest := pem.Decode(v)
			if block == nil || len(rest) != 0 {
				t.Fatalf("key %s does not hold exactly one PEM block", k)
			}
			if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				t.Fatalf("key %s: %v", k, err)
			}
		}
		if total > corev1.MaxSecretSize {
			t.Fatalf("data of %d bytes", total)
		}
		if len(res.Certificates) != len(res.Data)-1 {
			t.Fatalf("%d summaries for %d certificates", len(res.Certificates), len(res.Data)-1)
		}
		for _, w := range res.Warnings {
			if len(w.Message) > maxMessageLen {
				t.Fatalf("warning of %d bytes", len(w.Message))
			}
		}
		if res.TrustDigest != TrustDigest(res.Data) {
			t.Fatal("trust digest does not match the data")
		}
		again, err := Render(in)
		if err != nil || !reflect.DeepEqual(again, res) {
			t.Fatalf("second render differs (err %v)", err)
		}
	})
}
