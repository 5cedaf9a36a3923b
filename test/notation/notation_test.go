package notation

import (
	"context"
	"testing"
	"time"

	notationregistry "github.com/notaryproject/notation-go/registry"
	. "github.com/onsi/gomega"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/registry"
)

// TestPushTagSignOnEveryRegistryFlavour pushes, tags and signs on a plain,
// an htpasswd, a TLS and a mutual-TLS registry, and reads the signature back
// the way a verifier finds it.
func TestPushTagSignOnEveryRegistryFlavour(t *testing.T) {
	root := certs.NewCA("signing root")
	leaf := certs.NewCodeSigner("release", root)
	clientCA := certs.NewCA("client CA")
	client := certs.NewClient("flux", clientCA).TLSCertificate()

	cases := map[string]struct {
		opts   registry.Options
		remote func(*registry.Registry) Remote
	}{
		"plain": {remote: For},
		"htpasswd": {
			opts: registry.Options{Users: map[string]string{"flux": "s3cret"}},
			remote: func(r *registry.Registry) Remote {
				rm := For(r)
				rm.Username, rm.Password = "flux", "s3cret"
				return rm
			},
		},
		"tls":  {opts: registry.Options{TLS: true}, remote: For},
		"mtls": {opts: registry.Options{ClientCA: clientCA}, remote: func(r *registry.Registry) Remote { rm := For(r); rm.ClientCert = &client; return rm }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			reg := registry.Start(t, tc.opts)
			rm := tc.remote(reg)
			ref := reg.Reference("app")

			desc, err := PushArtifact(ctx, rm, ref, "", []byte("content"))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Tag(ctx, rm, ref, desc, "v1.0.0")).To(Succeed())
			_, err = Sign(ctx, rm, ref, desc, leaf, root)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(reg.Requests()).To(BeNumerically(">", 0))

			repo, err := rm.Repository(ref)
			g.Expect(err).NotTo(HaveOccurred())
			resolved, err := repo.Resolve(ctx, "v1.0.0")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(resolved.Digest).To(Equal(desc.Digest))

			var sigs []ocispec.Descriptor
			g.Expect(notationregistry.NewRepository(repo).ListSignatures(ctx, desc, func(m []ocispec.Descriptor) error {
				sigs = append(sigs, m...)
				return nil
			})).To(Succeed())
			g.Expect(sigs).To(HaveLen(1))
		})
	}
}

// TestAuthIsEnforced makes sure the htpasswd registry really refuses wrong
// credentials, so tests relying on it prove something.
func TestAuthIsEnforced(t *testing.T) {
	g := NewWithT(t)
	reg := registry.Start(t, registry.Options{Users: map[string]string{"flux": "s3cret"}})
	rm := For(reg)
	rm.Username, rm.Password = "flux", "wrong"
	_, err := PushArtifact(context.Background(), rm, reg.Reference("app"), "", []byte("x"))
	g.Expect(err).To(MatchError(ContainSubstring("401")))
}

// TestPluginMarkedAndCOSESignatures covers the other signing paths.
func TestPluginMarkedAndCOSESignatures(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	root := certs.NewCA("signing root")
	leaf := certs.NewCodeSigner("release", root)
	reg := registry.Start(t, registry.Options{})
	rm := For(reg)
	ref := reg.Reference("app")
	desc, err := PushArtifact(ctx, rm, ref, "", []byte("content"))
	g.Expect(err).NotTo(HaveOccurred())

	_, err = SignWithOptions(ctx, rm, ref, desc, SignOptions{MediaType: COSE}, leaf, root)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = SignWithOptions(ctx, rm, ref, desc, SignOptions{VerificationPlugin: "com.example.kms"}, leaf, root)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = PushSignature(ctx, rm, ref, desc, JWS, []byte("not an envelope"))
	g.Expect(err).NotTo(HaveOccurred())
}

func TestFluxTakesForAuthError(t *testing.T) {
	g := NewWithT(t)
	for _, s := range []string{"127.0.0.1:40123", "sha256:84cb082eca754014b51a", "helm-1401", "unauthorized"} {
		g.Expect(FluxTakesForAuthError(s)).To(BeTrue(), s)
	}
	for _, s := range []string{"127.0.0.1:43031", "sha256:a3cccebae4117ea410ad", "helm-768/charts/app:1.0.0"} {
		g.Expect(FluxTakesForAuthError(s)).To(BeFalse(), s)
	}
}

// TestSignUntilLeavesOneAcceptedSignature: a refused signature is deleted
// and made again, so the artifact ends with exactly one signature, the
// accepted one.
func TestSignUntilLeavesOneAcceptedSignature(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := certs.NewCA("signing root")
	leaf := certs.NewCodeSigner("release", root)
	reg := registry.Start(t, registry.Options{})
	rm := For(reg)
	ref := reg.Reference("charts/app")
	desc, err := PushChart(ctx, rm, reg.Reference("charts"), "app", "1.0.0")
	g.Expect(err).NotTo(HaveOccurred())

	var seen []ocispec.Descriptor
	err = signUntil(ctx, rm, ref, desc, func(sig ocispec.Descriptor) bool {
		seen = append(seen, sig)
		return len(seen) == 3 // refuse the first two
	}, leaf, root)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(seen).To(HaveLen(3))
	g.Expect(seen[2].Digest).NotTo(Equal(seen[0].Digest))

	repo, err := rm.Repository(ref)
	g.Expect(err).NotTo(HaveOccurred())
	sigs, err := orasregistry.Referrers(ctx, repo, desc, notationregistry.ArtifactTypeNotation)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sigs).To(HaveLen(1))
	g.Expect(sigs[0].Digest).To(Equal(seen[2].Digest))

	// Signed already: a second signature would change what Flux reports.
	g.Expect(signUntil(ctx, rm, ref, desc, func(ocispec.Descriptor) bool { return true }, leaf, root)).
		To(MatchError(ContainSubstring("has 2 signatures, want 1")))
	// Never accepted: it gives up.
	other, err := PushChart(ctx, rm, reg.Reference("other"), "app", "1.0.0")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(signUntil(ctx, rm, reg.Reference("other/app"), other, func(ocispec.Descriptor) bool { return false }, leaf, root)).
		To(MatchError(ContainSubstring("no acceptable signature")))
}
