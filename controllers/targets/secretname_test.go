package targets

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
)

// The manager and kubectl vpol refuse the same names with this message.
func TestCheckSecretName(t *testing.T) {
	g := NewWithT(t)
	g.Expect(CheckSecretName("notation-config", []string{"notation-config", "other"})).To(Succeed())

	bad, ok := inputerror.As(CheckSecretName("mine", []string{"notation-config", "other"}))
	g.Expect(ok).To(BeTrue())
	g.Expect(bad.Kind).To(Equal(inputerror.Stalling))
	g.Expect(bad.Reason).To(Equal(v1alpha1.ReasonSecretNameNotAllowed))
	g.Expect(bad.Error()).To(Equal(`target.secretName: Secret name "mine" is not one the operator is allowed to write (--target-secret-names=notation-config,other); ` +
		`use an allowed name, or add it to the flag and to the resourceNames of the manager's ClusterRole`))
}
