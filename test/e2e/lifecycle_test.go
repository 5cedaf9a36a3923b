package e2e

import (
	"context"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
)

// TestProbesAndGracefulShutdown checks what the Deployment's probes and the
// kubelet rely on: /healthz and /readyz answer 200 while the manager runs,
// and SIGTERM makes it exit with code 0, releasing its probe port.
func TestProbesAndGracefulShutdown(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	m := startManager(t)
	for _, path := range []string{"healthz", "readyz"} {
		code, err := m.Probe(ctx, path)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(code).To(Equal(http.StatusOK), "/%s", path)
	}

	code, err := m.Stop(stopTimeout)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(code).To(Equal(0), "exit code after SIGTERM; log:\n%s", m.LogTail(20))
	_, err = m.Probe(ctx, "readyz")
	g.Expect(err).To(HaveOccurred(), "the probe endpoint still answers after exit")
}
