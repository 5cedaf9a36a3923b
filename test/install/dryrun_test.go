package install

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// TestDefaultInstallOnAPIServer creates everything config/default renders,
// and the samples, on a real API server with a server-side dry run, so
// schema, CEL, RBAC and admission checks all apply. The Namespace and the
// CRD are then created for real, because the rest depends on them.
//
// The manager's namespace enforces the "restricted" Pod Security Standard
// and warns on workloads that break it; any such warning fails the test.
func TestDefaultInstallOnAPIServer(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run make test, or set it to the directory holding " +
			"kube-apiserver and etcd (make envtest builds them into bin/k8s/<version>)")
	}
	g := NewWithT(t)
	rendered := kustomizeBuild(t, "config/default")
	samples := kustomizeBuild(t, "config/samples")

	env := &envtest.Environment{ControlPlaneStartTimeout: testenv.StartTimeout, ControlPlaneStopTimeout: testenv.StopTimeout}
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred(), "start envtest")
	t.Cleanup(func() { _ = env.Stop() })

	warnings := &warningRecorder{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = warnings
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	g.Expect(apiextensionsv1.AddToScheme(scheme)).To(Succeed())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Dependencies first, dry-run and then for real.
	for _, obj := range ofKind(rendered, "Namespace", "CustomResourceDefinition") {
		g.Expect(c.Create(ctx, obj.DeepCopy(), client.DryRunAll)).To(Succeed(), "dry-run %s %s", obj.GetKind(), obj.GetName())
		g.Expect(c.Create(ctx, obj.DeepCopy())).To(Succeed(), "create %s %s", obj.GetKind(), obj.GetName())
		if obj.GetKind() == "CustomResourceDefinition" {
			waitEstablished(ctx, g, c, obj.GetName())
		}
	}
	for _, obj := range append(rendered, samples...) {
		if obj.GetKind() == "Namespace" || obj.GetKind() == "CustomResourceDefinition" {
			continue
		}
		// A CRD can be Established a moment before discovery serves its
		// kind: only "no match" is retried, any other error fails at once.
		g.Eventually(func() error {
			err := c.Create(ctx, obj.DeepCopy(), client.DryRunAll)
			if err != nil && !apimeta.IsNoMatchError(err) {
				return StopTrying("the API server refused it").Wrap(err)
			}
			return err
		}).WithContext(ctx).Should(Succeed(), "dry-run %s %s", obj.GetKind(), obj.GetName())
	}
	g.Expect(warnings.get()).To(BeEmpty(), "API server warnings")

	// Make sure the Pod Security check above can fail: a manager that may
	// escalate privileges must draw a warning.
	deployments := ofKind(rendered, "Deployment")
	g.Expect(deployments).To(HaveLen(1))
	escalating := deployments[0].DeepCopy()
	containers, _, _ := unstructured.NestedSlice(escalating.Object, "spec", "template", "spec", "containers")
	unstructured.RemoveNestedField(containers[0].(map[string]interface{}), "securityContext", "allowPrivilegeEscalation")
	g.Expect(unstructured.SetNestedSlice(escalating.Object, containers, "spec", "template", "spec", "containers")).To(Succeed())
	g.Expect(c.Create(ctx, escalating, client.DryRunAll)).To(Succeed())
	g.Expect(warnings.get()).To(ContainElement(ContainSubstring("allowPrivilegeEscalation")),
		"Pod Security admission is not checking the manager's namespace")
}

func waitEstablished(ctx context.Context, g *WithT, c client.Client, name string) {
	g.Eventually(func(g Gomega) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: name}, crd)).To(Succeed())
		established := false
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		g.Expect(established).To(BeTrue(), "CRD %s established", name)
	}).WithContext(ctx).Should(Succeed())
}

// warningRecorder collects the Warning headers of API responses.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, strings.TrimSpace(text))
}

func (w *warningRecorder) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.warnings...)
}
