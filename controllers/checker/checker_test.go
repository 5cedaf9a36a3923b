package checker

import (
	"context"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
)

func repo(provider string, verified *metav1.ConditionStatus, fingerprint string) *Artifact {
	r := &ocirepos.Repository{Fingerprint: fingerprint}
	r.Namespace, r.Name = "team", "app"
	r.Spec.Provider = provider
	r.Spec.Verify = &sourcev1.OCIRepositoryVerification{Provider: "notation", SecretRef: &meta.LocalObjectReference{Name: "notation-config"}}
	if verified != nil {
		r.Status.Conditions = []metav1.Condition{{Type: sourcev1.SourceVerifiedCondition, Status: *verified, Reason: "x", Message: "Flux says so"}}
	}
	u := ocirepos.New()
	u.SetNamespace(r.Namespace)
	u.SetName(r.Name)
	return fromRepository(u, r)
}

// The outcomes that come from Flux alone (no registry, no verifier): a
// namespace without our Secret, operator-side verification disabled, and
// cloud registries whose identity only source-controller has.
func TestCheckWithoutTheVerifier(t *testing.T) {
	T, F := metav1.ConditionTrue, metav1.ConditionFalse
	obj := &v1alpha1.VerificationPolicy{}
	obj.Status.FluxFingerprint = "sha256:ours"
	synced := func(string) (map[string][]byte, string, bool) { return map[string][]byte{}, "sha256:d", true }
	missing := func(string) (map[string][]byte, string, bool) { return nil, "", false }
	cases := []struct {
		name    string
		repo    *Artifact
		trust   TrustFor
		enabled bool
		state   State
		reason  string
	}{
		{"no Secret yet", repo("", nil, ""), missing, true, Pending, v1alpha1.ReasonTrustSecretMissing},
		{"disabled, Flux verified with our fingerprint", repo("", &T, "sha256:ours"), synced, false, Verified, ""},
		{"disabled, Flux verified with another fingerprint", repo("", &T, "sha256:old"), synced, false, Pending, v1alpha1.ReasonArtifactsPending},
		{"disabled, Flux failed", repo("", &F, ""), synced, false, Failed, v1alpha1.ReasonFluxFailed},
		{"cloud provider, no verdict yet", repo("aws", nil, ""), synced, true, Pending, v1alpha1.ReasonDelegatedToFlux},
		{"cloud provider, Flux verified with our fingerprint", repo("gcp", &T, "sha256:ours"), synced, true, Verified, v1alpha1.ReasonDelegatedToFlux},
		{"cloud provider, Flux failed", repo("azure", &F, ""), synced, true, Failed, v1alpha1.ReasonFluxFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			out := (&Checker{}).Check(context.Background(), obj, []*Artifact{tc.repo}, tc.trust, Options{Enabled: tc.enabled})
			g.Expect(out).To(HaveLen(1))
			g.Expect(out[0].State).To(Equal(tc.state))
			g.Expect(out[0].Reason).To(Equal(tc.reason))
			g.Expect(out[0].Ours).To(BeNil(), "the verifier ran")
			g.Expect(out[0].Artifact.Key()).To(Equal("team/app"))
			g.Expect(out[0].Artifact.ID()).To(Equal("OCIRepository/team/app"))
		})
	}
}
