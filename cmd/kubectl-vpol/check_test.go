package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/flux-notation/verification-operator/test/certs"
	tnotation "github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// signedRegistry is a test registry with one repository holding a
// trusted, an untrusted and an unsigned artifact, each under its tag.
type signedRegistry struct {
	reg                        *registry.Registry
	ca, leaf, otherCA, outside *certs.Cert
	repo                       string // "host/app"
	trusted                    ocispec.Descriptor
}

func newSignedRegistry(t *testing.T, o registry.Options) *signedRegistry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := &signedRegistry{reg: registry.Start(t, o)}
	s.ca = certs.NewCA("CLI Test Root")
	s.leaf = certs.NewCodeSigner("CLI Test Release Signing", s.ca)
	s.otherCA = certs.NewCA("Someone Else's Root")
	s.outside = certs.NewCodeSigner("Someone Else Signing", s.otherCA)
	s.repo = s.reg.Reference("app")
	remote := tnotation.For(s.reg)
	if len(o.Users) > 0 {
		for u, p := range o.Users {
			remote.Username, remote.Password = u, p
		}
	}
	push := func(content, tag string) ocispec.Descriptor {
		desc, err := tnotation.PushArtifact(ctx, remote, s.repo, "", []byte(content))
		if err == nil {
			err = tnotation.Tag(ctx, remote, s.repo, desc, tag)
		}
		if err != nil {
			t.Fatalf("pushing %s: %v", tag, err)
		}
		return desc
	}
	s.trusted = push("trusted", "trusted")
	untrusted := push("untrusted", "untrusted")
	push("unsigned", "unsigned")
	if _, err := tnotation.Sign(ctx, remote, s.repo, s.trusted, s.leaf, s.ca); err != nil {
		t.Fatal(err)
	}
	if _, err := tnotation.Sign(ctx, remote, s.repo, untrusted, s.outside, s.otherCA); err != nil {
		t.Fatal(err)
	}
	return s
}

// policyFile writes a policy trusting s.ca for the repository, strict, and
// audit for repository "sandbox".
// policyHead starts a test policy named name whose first trust policy,
// "app", trusts the test signer for s.repo; the caller goes on with more
// trust policies or with certificates.
func (s *signedRegistry) policyHead(name string) string {
	return fmt.Sprintf(`apiVersion: verification.flux-notation.io/v1alpha1
kind: VerificationPolicy
metadata:
  name: %s
spec:
  trustPolicies:
  - name: app
    registryScopes: [%q]
    signatureVerification: {level: strict}
    trustedIdentities: ["x509.subject: C=US, ST=WA, O=verification-operator tests, CN=CLI Test Release Signing"]
`, name, s.repo)
}

func (s *signedRegistry) policyFile(t *testing.T) string {
	t.Helper()
	pem := "      " + strings.ReplaceAll(strings.TrimSpace(string(s.ca.PEM())), "\n", "\n      ")
	policy := s.policyHead("cli-test") + fmt.Sprintf(`  - name: sandbox
    registryScopes: [%q]
    signatureVerification: {level: audit}
    trustedIdentities: ["*"]
  certificates:
  - name: cli-test-root
    inline: |
%s
  target:
    namespaces: [team-a]
`, s.reg.Reference("sandbox"), pem)
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func (s *signedRegistry) artifact(tag string) string { return "oci://" + s.repo + ":" + tag }

// noDockerConfig keeps the user's own ~/.docker/config.json out of tests.
func noDockerConfig(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"auths": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckTrustedUntrustedAndUnsigned(t *testing.T) {
	s := newSignedRegistry(t, registry.Options{})
	policy := s.policyFile(t)
	docker := noDockerConfig(t)
	check := func(args ...string) result {
		return vpol(t, append([]string{"check", "-f", policy, "--insecure", "--docker-config", docker}, args...)...)
	}

	t.Run("trusted: exit 0, the signer named", func(t *testing.T) {
		g := NewWithT(t)
		r := check("--artifact", s.artifact("trusted"))
		g.Expect(r.code).To(Equal(0), r.stdout+r.stderr)
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^oci://%s:trusted +Verified +Succeeded +CN=CLI Test Release Signing,O=verification-operator tests,ST=WA,C=US$`, s.repo))
		g.Expect(r.stdout).To(HaveSuffix("all 1 artifacts pass\n"))
	})
	t.Run("by digest, wide", func(t *testing.T) {
		g := NewWithT(t)
		r := check("--artifact", "oci://"+s.repo+"@"+s.trusted.Digest.String(), "-o", "wide")
		g.Expect(r.code).To(Equal(0), r.stdout+r.stderr)
		g.Expect(r.stdout).To(ContainSubstring("DIGEST"))
		g.Expect(r.stdout).To(ContainSubstring(s.trusted.Digest.String()))
	})
	t.Run("untrusted: exit 1, whose signature it is", func(t *testing.T) {
		g := NewWithT(t)
		r := check("--artifact", s.artifact("untrusted"))
		g.Expect(r.code).To(Equal(1), r.stdout+r.stderr)
		g.Expect(r.stdout).To(MatchRegexp(`Failed +UntrustedSigner +CN=Someone Else Signing`))
		g.Expect(r.stdout).To(ContainSubstring("failed to verify the signature using provider 'notation'"))
		g.Expect(r.stdout).To(HaveSuffix("1 of 1 artifacts would fail verification\n"))
	})
	t.Run("unsigned: exit 1", func(t *testing.T) {
		g := NewWithT(t)
		r := check("--artifact", s.artifact("unsigned"))
		g.Expect(r.code).To(Equal(1), r.stdout+r.stderr)
		g.Expect(r.stdout).To(MatchRegexp(`Failed +SignatureNotFound`))
	})
	t.Run("one failure fails the check", func(t *testing.T) {
		g := NewWithT(t)
		r := check("--artifact", s.artifact("trusted"), "--artifact", s.artifact("untrusted"), "--artifact", s.artifact("unsigned"))
		t.Logf("kubectl vpol check:\n%s", r.stdout)
		g.Expect(r.code).To(Equal(1), r.stdout+r.stderr)
		g.Expect(r.stdout).To(ContainSubstring("2 of 3 artifacts would fail verification"))
	})
	t.Run("audit is ignored, as by Flux: exit 0", func(t *testing.T) {
		g := NewWithT(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		remote := tnotation.For(s.reg)
		desc, err := tnotation.PushArtifact(ctx, remote, s.reg.Reference("sandbox"), "", []byte("experiment"))
		g.Expect(err).NotTo(HaveOccurred())
		_, err = tnotation.Sign(ctx, remote, s.reg.Reference("sandbox"), desc, s.outside, s.otherCA)
		g.Expect(err).NotTo(HaveOccurred())
		r := check("--artifact", "oci://"+s.reg.Reference("sandbox")+"@"+desc.Digest.String())
		g.Expect(r.code).To(Equal(0), r.stdout+r.stderr)
		g.Expect(r.stdout).To(MatchRegexp(`Ignored +AuditOnly +CN=Someone Else Signing`))
	})
	t.Run("usage errors: exit 2", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(check().code).To(Equal(2), "nothing to check")
		g.Expect(check("--artifact", s.repo+":trusted").code).To(Equal(2), "not an oci:// reference")
		r := vpol(t, "check", "-f", "testdata/render/private-key.yaml", "--artifact", s.artifact("trusted"))
		g.Expect(r.code).To(Equal(2), "a policy that does not render")
		g.Expect(r.stderr).To(ContainSubstring("PrivateKeyRejected"))
	})
}

func TestCheckUsesTheDockerConfig(t *testing.T) {
	g := NewWithT(t)
	s := newSignedRegistry(t, registry.Options{Users: map[string]string{"ci": "s3cret"}, TLS: true})
	policy := s.policyFile(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	g.Expect(os.WriteFile(ca, s.reg.CAPEM(), 0o600)).To(Succeed())
	docker := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("ci:s3cret"))
	g.Expect(os.WriteFile(docker, fmt.Appendf(nil, `{"auths": {%q: {"auth": %q}}}`, s.reg.Host(), auth), 0o600)).To(Succeed())

	r := vpol(t, "check", "-f", policy, "--ca-file", ca, "--docker-config", docker, "--artifact", s.artifact("trusted"))
	g.Expect(r.code).To(Equal(0), r.stdout+r.stderr)

	r = vpol(t, "check", "-f", policy, "--ca-file", ca, "--docker-config", noDockerConfig(t), "--artifact", s.artifact("trusted"))
	g.Expect(r.code).To(Equal(1), r.stdout+r.stderr)
	g.Expect(r.stdout).To(ContainSubstring("RegistryAuthFailed"))
	g.Expect(r.stdout + r.stderr).NotTo(ContainSubstring("s3cret"))

	r = vpol(t, "check", "-f", policy, "--docker-config", filepath.Join(t.TempDir(), "missing.json"), "--artifact", s.artifact("trusted"))
	g.Expect(r.code).To(Equal(2), "an explicit docker config that does not exist")
}
