package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/envtest"
)

var k8s client.Client

func TestMain(m *testing.M) {
	env, cfg, err := envtest.Start()
	if err != nil {
		panic(err)
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

var caPEM = string(certs.NewCA("validation test CA").PEM())

func validPolicy(name string) *v1alpha1.VerificationPolicy {
	return &v1alpha1.VerificationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.VerificationPolicySpec{
			TrustPolicies: []v1alpha1.TrustPolicyStatement{{
				Name:                  "apps",
				RegistryScopes:        []string{"registry.example.com/team/app"},
				SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
				TrustedIdentities:     []string{"x509.subject: CN=release,O=Example"},
			}},
			Certificates: []v1alpha1.CertificateSource{{Name: "root", Inline: caPEM}},
			Target:       v1alpha1.Target{Namespaces: []string{"team-a"}},
		},
	}
}

func TestCRDAppliesDefaults(t *testing.T) {
	g := NewWithT(t)
	obj := validPolicy("defaults")
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })

	got := &v1alpha1.VerificationPolicy{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), got)).To(Succeed())
	g.Expect(got.Spec.Target.SecretName).To(Equal("notation-config"))
	g.Expect(got.Spec.Target.DeletionPolicy).To(Equal(v1alpha1.DeletionPolicyDelete))
	g.Expect(got.Spec.Certificates[0].Type).To(Equal(v1alpha1.CertificateTypeCA))
	g.Expect(got.Spec.OCIRepositories.Reverify).To(Equal(v1alpha1.ReverifyForce))
	g.Expect(got.Spec.OCIRepositories.Verification).To(Equal(v1alpha1.VerificationEnabled))
	g.Expect(got.Spec.OCIRepositories.Interval.Duration.String()).To(Equal("10m0s"))
	g.Expect(got.Spec.Rollout.Strategy).To(Equal(v1alpha1.RolloutAllAtOnce))
	g.Expect(got.Spec.Interval.Duration.String()).To(Equal("1h0m0s"))
}

func TestCRDAcceptsSamples(t *testing.T) {
	g := NewWithT(t)
	files, err := filepath.Glob(filepath.Join(envtest.RepoRoot(), "config", "samples", "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		g.Expect(err).NotTo(HaveOccurred())
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
		for {
			obj := &v1alpha1.VerificationPolicy{}
			if err := dec.Decode(obj); err != nil {
				break
			}
			if obj.Kind != v1alpha1.VerificationPolicyKind {
				continue
			}
			found++
			g.Expect(k8s.Create(context.Background(), obj, client.DryRunAll)).To(Succeed(), "sample %s", filepath.Base(f))
		}
	}
	g.Expect(found).To(BeNumerically(">", 0), "config/samples holds no VerificationPolicy")
}

func TestCRDRejectsInvalidPolicies(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*v1alpha1.VerificationPolicy)
		message string
	}{
		{"no certificate source", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Certificates[0].Inline = ""
		}, "exactly one of inline, secretRef, configMapRef or clusterTrustBundle must be set"},
		{"two certificate sources", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Certificates[0].SecretRef = &v1alpha1.KeyReference{Name: "roots", Key: "ca.crt"}
		}, "exactly one of inline, secretRef, configMapRef or clusterTrustBundle must be set"},
		{"no target", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Target.Namespaces = nil
		}, "at least one of namespaces or namespaceSelector must be set"},
		{"wildcard scope with others", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].RegistryScopes = []string{"*", "registry.example.com/x"}
		}, "'*' must be the only registry scope of its statement"},
		{"two wildcard statements", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].RegistryScopes = []string{"*"}
			second := p.Spec.TrustPolicies[0]
			second.Name = "other"
			p.Spec.TrustPolicies = append(p.Spec.TrustPolicies, second)
		}, "only one trust policy statement may use the '*' registry scope"},
		{"wildcard identity with others", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].TrustedIdentities = []string{"*", "x509.subject: CN=a"}
		}, "'*' must be the only trusted identity of its statement"},
		{"identity without prefix", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].TrustedIdentities = []string{"CN=release"}
		}, "a trusted identity is '*' or starts with 'x509.subject:'"},
		{"no identities for strict", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].TrustedIdentities = nil
		}, "trustedIdentities are required unless the level is skip"},
		{"identities on skip", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].SignatureVerification.Level = "skip"
		}, "a statement with level skip takes no trustedIdentities"},
		{"override on skip", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].SignatureVerification = v1alpha1.SignatureVerification{
				Level: "skip", Override: map[string]v1alpha1.ValidationAction{"revocation": "log"}}
			p.Spec.TrustPolicies[0].TrustedIdentities = nil
		}, "level skip cannot be customized with override"},
		{"integrity override", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].SignatureVerification.Override = map[string]v1alpha1.ValidationAction{"integrity": "log"}
		}, "integrity cannot be overridden"},
		{"skip authenticity", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].SignatureVerification.Override = map[string]v1alpha1.ValidationAction{"authenticity": "skip"}
		}, "only revocation may be set to skip"},
		{"unknown override action", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].SignatureVerification.Override = map[string]v1alpha1.ValidationAction{"expiry": "ignore"}
		}, "Unsupported value: \"ignore\""},
		{"unknown level", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].SignatureVerification.Level = "lenient"
		}, "Unsupported value: \"lenient\""},
		{"statement name unusable as trust store name", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies[0].Name = "my apps"
		}, "spec.trustPolicies[0].name"},
		{"duplicate statement names", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies = append(p.Spec.TrustPolicies, p.Spec.TrustPolicies[0])
			p.Spec.TrustPolicies[1].RegistryScopes = []string{"registry.example.com/other"}
		}, "Duplicate value"},
		{"duplicate certificate names", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Certificates = append(p.Spec.Certificates, p.Spec.Certificates[0])
		}, "Duplicate value"},
		{"certificate name not a DNS label", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Certificates[0].Name = "Root_CA"
		}, "spec.certificates[0].name"},
		{"unknown certificate type", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Certificates[0].Type = "root"
		}, "Unsupported value: \"root\""},
		{"reserved label", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Target.Labels = map[string]string{"app.kubernetes.io/managed-by": "me"}
		}, "reserved for the operator"},
		{"reserved role label", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Target.Labels = map[string]string{v1alpha1.RoleLabel: "rollout-snapshot"}
		}, "reserved for the operator"},
		{"reserved annotation", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Target.Annotations = map[string]string{"verification.flux-notation.io/trust-digest": "x"}
		}, "reserved for the operator"},
		{"invalid namespace name", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Target.Namespaces = []string{"Team_A"}
		}, "spec.target.namespaces[0]"},
		{"staged without stages", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Rollout.Strategy = v1alpha1.RolloutStaged
		}, "stages are required when the strategy is Staged"},
		{"stage without namespaces", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Rollout.Stages = []v1alpha1.RolloutStage{{Name: "canary"}}
		}, "a stage needs namespaces or a namespaceSelector"},
		{"bad interval", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Interval = &metav1.Duration{Duration: -1}
		}, "spec.interval"},
		{"no trust policies", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.TrustPolicies = nil
		}, "spec.trustPolicies"},
		{"source reference with a bad key", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Certificates[0].Inline = ""
			p.Spec.Certificates[0].SecretRef = &v1alpha1.KeyReference{Name: "roots", Key: "../etc/passwd"}
		}, "spec.certificates[0].secretRef.key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := validPolicy("invalid")
			tc.mutate(obj)
			err := k8s.Create(context.Background(), obj, client.DryRunAll)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring(tc.message))
		})
	}
}
