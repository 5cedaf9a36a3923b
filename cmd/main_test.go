package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

func TestHelpListsTheFlags(t *testing.T) {
	g := NewWithT(t)
	var out bytes.Buffer
	_, err := parseFlags([]string{"--help"}, &out)
	g.Expect(err).To(MatchError(ContainSubstring("help requested")))
	for _, f := range []string{
		"--metrics-bind-address", "--health-probe-bind-address", "--leader-elect",
		"--trust-namespace", "--log-level", "--kubeconfig", "--concurrency", "--write-concurrency",
		"--target-secret-names",
	} {
		g.Expect(out.String()).To(ContainSubstring(f))
	}
}

func TestTrustNamespaceDefaultsToThePodNamespace(t *testing.T) {
	g := NewWithT(t)
	t.Setenv("POD_NAMESPACE", "")
	o, err := parseFlags(nil, &bytes.Buffer{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.trustNamespace).To(Equal(defaultTrustNamespace))

	t.Setenv("POD_NAMESPACE", "platform-trust")
	o, err = parseFlags(nil, &bytes.Buffer{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.trustNamespace).To(Equal("platform-trust"))

	_, err = parseFlags([]string{"--trust-namespace="}, &bytes.Buffer{})
	g.Expect(err).To(HaveOccurred())
}

func TestTargetSecretNames(t *testing.T) {
	g := NewWithT(t)
	o, err := parseFlags(nil, &bytes.Buffer{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.targetSecretNames).To(Equal([]string{"notation-config"}), "Flux's documented name by default")

	o, err = parseFlags([]string{"--target-secret-names=notation-config,notation-trust"}, &bytes.Buffer{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.targetSecretNames).To(Equal([]string{"notation-config", "notation-trust"}))

	for _, bad := range []string{"--target-secret-names=", "--target-secret-names=Not_A_Name", "--target-secret-names=a,a"} {
		_, err := parseFlags([]string{bad}, &bytes.Buffer{})
		g.Expect(err).To(MatchError(ContainSubstring("--target-secret-names")), bad)
	}
}

// TestManagerServesProbesAndStopsCleanly starts the real manager against a
// real API server and checks the probes a kubelet would call.
func TestManagerServesProbesAndStopsCleanly(t *testing.T) {
	g := NewWithT(t)
	env, cfg, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })

	admin, err := env.AddUser(envtest.User{Name: "probe-test", Groups: []string{"system:masters"}}, cfg)
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := admin.KubeConfig()
	g.Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())

	probeAddr := freeAddr(t)
	o, err := parseFlags([]string{
		"--kubeconfig=" + path,
		"--health-probe-bind-address=" + probeAddr,
		"--metrics-bind-address=0",
		"--trust-namespace=default",
		"--log-level=error",
	}, &bytes.Buffer{})
	g.Expect(err).NotTo(HaveOccurred())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, o) }()

	// Each probe gets an answer within seconds, or the poll is repeated; a
	// manager that has stopped ends the wait with its error. /readyz waits
	// for the informers, which a loaded machine can take a while to sync.
	probe := &http.Client{Timeout: 5 * time.Second}
	for _, p := range []struct {
		path string
		wait time.Duration
	}{{"/healthz", 30 * time.Second}, {"/readyz", 2 * time.Minute}} {
		path := p.path
		g.Eventually(func() (int, error) {
			select {
			case err := <-done:
				return 0, StopTrying("the manager stopped").Wrap(fmt.Errorf("run: %v", err))
			default:
			}
			resp, err := probe.Get(fmt.Sprintf("http://%s%s", probeAddr, path))
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			return resp.StatusCode, nil
		}, p.wait, 100*time.Millisecond).Should(Equal(http.StatusOK), path)
	}

	cancel()
	g.Eventually(done, 30*time.Second).Should(Receive(BeNil()), "the manager did not stop cleanly")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
