package verify

// Registry access as the OCIRepository configures it: pull secrets, TLS
// material, plain HTTP.

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/registry"
)

func TestHtpasswdRegistryThroughPullSecrets(t *testing.T) {
	const password = "correct horse battery staple"
	w := newWorld(t, registry.Options{Users: map[string]string{"flux": password}})
	w.remote.Username, w.remote.Password = "flux", password
	s := newSigner("trusted root")
	desc := w.push("v1")
	w.sign(desc, s)
	host := w.reg.Host()

	cases := map[string]struct {
		configs [][]byte
		outcome Outcome
		reason  string
	}{
		"spec.secretRef":     {[][]byte{dockerConfig(host, "flux", password)}, Verified, ReasonSucceeded},
		"service account":    {[][]byte{dockerConfig("other.example.com", "x", "y"), dockerConfig(host, "flux", password)}, Verified, ReasonSucceeded},
		"secretRef wins":     {[][]byte{dockerConfig(host, "flux", "wrong"), dockerConfig(host, "flux", password)}, Failed, ReasonRegistryAuthFailed},
		"wrong password":     {[][]byte{dockerConfig(host, "flux", "wrong")}, Failed, ReasonRegistryAuthFailed},
		"no credentials":     {nil, Failed, ReasonRegistryAuthFailed},
		"not JSON":           {[][]byte{[]byte("{" + password)}, Failed, ReasonRegistryAuthFailed},
		"repository-scoped":  {[][]byte{dockerConfig(host+"/app", "flux", password)}, Verified, ReasonSucceeded},
		"other repository":   {[][]byte{dockerConfig(host+"/other", "flux", password)}, Failed, ReasonRegistryAuthFailed},
		"scheme and v2 path": {[][]byte{dockerConfig("http://"+host+"/v2/", "flux", password)}, Verified, ReasonSucceeded},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			req := w.request(desc, w.trustFor(s.root))
			req.Access.DockerConfigJSONs = tc.configs
			r := New(Options{}).Verify(testContext(t), req, 0)
			expectResult(g, r, tc.outcome, tc.reason)
			g.Expect(r.Message).NotTo(ContainSubstring(password))
			g.Expect(r.Message).NotTo(ContainSubstring("wrong"))
		})
	}
}

func TestTLSRegistryWithPrivateCA(t *testing.T) {
	w := newWorld(t, registry.Options{TLS: true})
	s := newSigner("trusted root")
	desc := w.push("v1")
	w.sign(desc, s)

	t.Run("CA from spec.certSecretRef", func(t *testing.T) {
		g := NewWithT(t)
		req := w.request(desc, w.trustFor(s.root))
		g.Expect(req.Access.Insecure).To(BeFalse())
		r := New(Options{}).Verify(testContext(t), req, 0)
		expectResult(g, r, Verified, ReasonSucceeded)
	})
	t.Run("without the CA", func(t *testing.T) {
		g := NewWithT(t)
		req := w.request(desc, w.trustFor(s.root))
		req.Access.CAPEM = nil
		r := New(Options{}).Verify(testContext(t), req, 0)
		expectResult(g, r, Failed, ReasonRegistryAuthFailed)
		g.Expect(r.Message).To(ContainSubstring("certificate"))
	})
	t.Run("another CA does not poison the host", func(t *testing.T) {
		g := NewWithT(t)
		v := New(Options{})
		bad := w.request(desc, w.trustFor(s.root))
		bad.Access.CAPEM = certs.NewCA("wrong CA").PEM()
		results := v.VerifyAll(testContext(t), []Request{bad, w.request(desc, w.trustFor(s.root))}, 0)
		expectResult(g, results[0], Failed, ReasonRegistryAuthFailed)
		expectResult(g, results[1], Verified, ReasonSucceeded)
	})
	t.Run("certificate without key", func(t *testing.T) {
		g := NewWithT(t)
		req := w.request(desc, w.trustFor(s.root))
		req.Access.CertPEM = certs.NewClient("flux", w.reg.CA()).PEM()
		r := New(Options{}).Verify(testContext(t), req, 0)
		expectResult(g, r, Failed, ReasonRegistryAuthFailed)
	})
}

func TestMutualTLSRegistry(t *testing.T) {
	clientCA := certs.NewCA("client CA")
	client := certs.NewClient("flux", clientCA)
	tlsCert := client.TLSCertificate()
	w := newWorld(t, registry.Options{ClientCA: clientCA})
	w.remote.ClientCert = &tlsCert
	s := newSigner("trusted root")
	desc := w.push("v1")
	w.sign(desc, s)

	g := NewWithT(t)
	req := w.request(desc, w.trustFor(s.root))
	req.Access.CertPEM, req.Access.KeyPEM = client.PEM(), client.KeyPEM()
	r := New(Options{}).Verify(testContext(t), req, 0)
	expectResult(g, r, Verified, ReasonSucceeded)

	req.Access.CertPEM, req.Access.KeyPEM = nil, nil
	r = New(Options{}).Verify(testContext(t), req, 0)
	expectResult(g, r, Failed, ReasonRegistryAuthFailed)
	g.Expect(r.Message).NotTo(ContainSubstring("PRIVATE KEY"))
}

// TestAVerdictIsNotSharedAcrossCredentials: the same artifact, digest and
// trust, verified from a namespace whose pull secret works, then from one
// without credentials: the second must fail as Flux there would, not
// inherit the first's verdict from the cache, in one batch or later.
func TestAVerdictIsNotSharedAcrossCredentials(t *testing.T) {
	g := NewWithT(t)
	const password = "s3cret"
	w := newWorld(t, registry.Options{Users: map[string]string{"flux": password}})
	w.remote.Username, w.remote.Password = "flux", password
	s := newSigner("private root")
	desc := w.push("private")
	w.sign(desc, s)

	withCreds := w.request(desc, w.trustFor(s.root))
	withCreds.Access.DockerConfigJSONs = [][]byte{dockerConfig(w.reg.Host(), "flux", password)}
	without := w.request(desc, w.trustFor(s.root))

	v := New(Options{})
	batch := v.VerifyAll(testContext(t), []Request{withCreds, without}, time.Hour)
	expectResult(g, batch[0], Verified, ReasonSucceeded)
	g.Expect(batch[1].Outcome).NotTo(Equal(Verified), "%s: %s", batch[1].Reason, batch[1].Message)

	later := v.Verify(testContext(t), without, time.Hour)
	g.Expect(later.Outcome).NotTo(Equal(Verified), "%s: %s", later.Reason, later.Message)
	g.Expect(v.Verify(testContext(t), withCreds, time.Hour).CacheHit).To(BeTrue(), "the same credentials do share")
}
