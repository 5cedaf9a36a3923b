package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// TestRegistryCredentialsAreAnExplicitGrant: with the default install the
// operator cannot read an OCIRepository's pull Secret, so a private
// artifact gets Flux's verdict (the real source-controller's, which has the
// credentials), reason RegistryCredentialsNotPermitted naming the
// ClusterRole to bind, and the policy does not fail for it. Binding the
// ClusterRole config/with-registry-credentials adds lets the operator
// verify the artifact itself.
func TestRegistryCredentialsAreAnExplicitGrant(t *testing.T) {
	usesRealFlux(t)
	ctx := context.Background()
	g := NewWithT(t)
	reg := registry.Start(t, registry.Options{Users: map[string]string{"flux": "s3cret"}})
	remote := notation.For(reg)
	remote.Username, remote.Password = "flux", "s3cret"
	root := certs.NewCA("credentials e2e root")
	signer := certs.NewCodeSigner("credentials e2e release", root)

	label := uniqueLabel()
	ns := createNamespaces(t, "creds", 1, label)[0]
	ref := reg.Reference(ns + "/app")
	content, err := notation.FluxContent("deploy.yaml", []byte("# private manifests\n"))
	g.Expect(err).NotTo(HaveOccurred())
	desc, err := notation.PushArtifact(ctx, remote, ref, "", content)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(notation.Tag(ctx, remote, ref, desc, "v1")).To(Succeed())
	_, err = notation.Sign(ctx, remote, ref, desc, signer, root)
	g.Expect(err).NotTo(HaveOccurred())

	auth := base64.StdEncoding.EncodeToString([]byte("flux:s3cret"))
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{reg.Host(): map[string]string{"auth": auth}}})
	g.Expect(err).NotTo(HaveOccurred())
	pull := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "registry-pull"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	}
	g.Expect(k8s.Create(ctx, pull)).To(Succeed())
	repo := cluster.NotationOCIRepository(ns, "app", ref, "v1", v1alpha1.DefaultSecretName)
	repo.Object["spec"].(map[string]any)["secretRef"] = map[string]any{"name": pull.Name}
	g.Expect(k8s.Create(ctx, repo)).To(Succeed())

	withCreds, err := cluster.RenderInstallOf("config/with-registry-credentials")
	g.Expect(err).NotTo(HaveOccurred())
	grant := withCreds.Extra(install)
	g.Expect(grant).To(HaveLen(2), "the overlay adds the ClusterRole and its binding")
	readPull := cluster.Grant{Verb: "get", Resource: "secrets", Namespace: ns, Name: pull.Name}

	name := uniqueName("creds")
	startManager(t)
	t.Cleanup(func() { deletePolicy(t, name) })
	p := newPolicy(name, label, inlineCA("root", root))
	p.Spec.TrustPolicies[0].TrustedIdentities = []string{"x509.subject: " + signer.Cert.Subject.String()}

	issue := func(g Gomega) *v1alpha1.ArtifactIssue {
		for _, i := range getPolicy(g, name).Status.ArtifactIssues {
			if i.Namespace == ns && i.Name == "app" {
				return &i
			}
		}
		return nil
	}
	steps(t,
		step{"without the grant the manager cannot read the pull Secret", func(t *testing.T) {
			allowed, err := cluster.Allowed(ctx, k8s, install.User(), readPull)
			NewWithT(t).Expect(err).NotTo(HaveOccurred())
			NewWithT(t).Expect(allowed).To(BeFalse())
		}},
		step{"Flux's verdict is used, named, and does not fail the policy", func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(k8s.Create(ctx, p)).To(Succeed())
			g.Eventually(func(g Gomega) {
				expectFlux(g, readFlux(g, ns, "app"), true, "")
				i := issue(g)
				g.Expect(i).NotTo(BeNil(), "no artifact issue for %s/app", ns)
				g.Expect(i.Reason).To(Equal(v1alpha1.ReasonRegistryCredentialsNotPermitted))
				g.Expect(i.Message).To(ContainSubstring(checker.RegistryCredentialsClusterRole))
				got := getPolicy(g, name)
				g.Expect(got.Status.Artifacts.Verified).To(BeEquivalentTo(1))
				c := conditions.Get(got, v1alpha1.ArtifactsVerifiedCondition)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
				g.Expect(c.Message).To(ContainSubstring("verified by Flux alone"))
				g.Expect(conditions.IsReady(got)).To(BeTrue())
			}, fluxTimeout, poll).Should(Succeed())
		}},
		step{"with the ClusterRole bound the operator verifies it itself", func(t *testing.T) {
			g := NewWithT(t)
			t.Cleanup(func() {
				for _, obj := range grant {
					if err := client.IgnoreNotFound(k8s.Delete(ctx, obj)); err != nil {
						t.Error(err)
					}
				}
				if err := cluster.WaitDenied(ctx, k8s, install.User(), readPull); err != nil {
					t.Error(err)
				}
			})
			for _, obj := range grant {
				g.Expect(cluster.Apply(ctx, k8s, obj)).To(Succeed())
			}
			g.Expect(cluster.WaitAuthorized(ctx, k8s, install.User(), readPull)).To(Succeed())
			// Ask for fresh verdicts rather than wait for the next interval.
			updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) {
				p.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "with-credentials"}
			})
			g.Eventually(func(g Gomega) {
				g.Expect(issue(g)).To(BeNil(), "the operator's own verdict replaces Flux's")
				got := getPolicy(g, name)
				g.Expect(got.Status.Artifacts).To(HaveField("Verified", BeEquivalentTo(1)))
				g.Expect(conditions.GetMessage(got, v1alpha1.ArtifactsVerifiedCondition)).NotTo(ContainSubstring("Flux alone"))
			}, timeout, poll).Should(Succeed())
		}},
	)
}

// TestASecretNameNotAllowedIsRefused: the manager's RBAC covers the Secret
// names of --target-secret-names only, so a policy targeting another name
// is Stalled with SecretNameNotAllowed and writes nothing, until its name
// is changed to an allowed one.
func TestASecretNameNotAllowedIsRefused(t *testing.T) {
	ctx := context.Background()
	label := uniqueLabel()
	namespaces := createNamespaces(t, "names", 2, label)
	name := uniqueName("names")
	m := startManager(t)
	t.Cleanup(func() { deletePolicy(t, name) })

	p := newPolicy(name, label, inlineCA("root", certs.NewCA("names e2e root")))
	p.Spec.Target.SecretName = "team-trust"
	NewWithT(t).Expect(k8s.Create(ctx, p)).To(Succeed())

	steps(t,
		step{"the policy is Stalled and names the flag", func(t *testing.T) {
			g := NewWithT(t)
			got := waitCondition(t, name, meta.StalledCondition, metav1.ConditionTrue, v1alpha1.ReasonSecretNameNotAllowed)
			synced := conditions.Get(got, v1alpha1.SecretsSyncedCondition)
			g.Expect(synced.Reason).To(Equal(v1alpha1.ReasonSecretNameNotAllowed))
			g.Expect(synced.Message).To(ContainSubstring("--target-secret-names=notation-config"))
			g.Eventually(func(g Gomega) bool { return hasEvent(g, name, v1alpha1.ReasonSecretNameNotAllowed) }, timeout, poll).Should(BeTrue())
			for _, ns := range namespaces {
				err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "team-trust"}, &corev1.Secret{})
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a Secret was written in %s", ns)
			}
		}},
		step{"an allowed name syncs", func(t *testing.T) {
			updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Target.SecretName = v1alpha1.DefaultSecretName })
			got := waitReady(t, name)
			waitSecrets(t, name, namespaces, got.Status.TrustDigest)
			expectNoForbidden(t, m)
		}},
	)
}
