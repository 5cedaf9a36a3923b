package cluster

import (
	"testing"

	. "github.com/onsi/gomega"
)

// The e2e manager gets its flags from the Deployment: that only means
// something if the manifest's args are really read.
func TestDeploymentArgsAreTheManifests(t *testing.T) {
	g := NewWithT(t)
	args, err := DeploymentArgs()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(args).To(ContainElements("--leader-elect", "--target-secret-names=notation-config"))
}

func TestLayerFlagsKeepsOneOfEachFlagFromTheLastLayer(t *testing.T) {
	g := NewWithT(t)
	got, err := layerFlags(
		[]string{"--leader-elect", "--target-secret-names=a", "--health-probe-bind-address=:8081"},
		[]string{"--leader-elect=false", "--health-probe-bind-address=127.0.0.1:1"},
		[]string{"--leader-elect", "--target-secret-names=b"},
	)
	g.Expect(err).NotTo(HaveOccurred())
	// A repeated --target-secret-names would be [a b] to pflag, not [b].
	g.Expect(got).To(Equal([]string{"--health-probe-bind-address=127.0.0.1:1", "--leader-elect", "--target-secret-names=b"}))

	for _, bad := range []string{"-v", "--", "---x", "value"} {
		_, err := layerFlags([]string{bad})
		g.Expect(err).To(HaveOccurred(), "%q", bad)
	}
}
