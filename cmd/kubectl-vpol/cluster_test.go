package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/kube"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/manifests"
	"github.com/flux-notation/verification-operator/controllers"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// trustNamespace is the CLI's default --trust-namespace; the in-process
// operator runs with it too.
const trustNamespace = "verification-operator-system"

// cluster is a control plane with Flux's CRDs and the operator running in
// this process (controllers.Setup, as the manager binary runs it).
type cluster struct {
	k8s        client.Client
	kubeconfig string
}

// startCluster starts a cluster of the test's own, stopped when the test
// ends, so that a test can run again (-count) on fresh namespaces. It
// fails, never skips, without the envtest binaries: `make test` provides
// them.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	c, stop, err := newCluster()
	t.Cleanup(stop)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMain(m *testing.M) {
	// The in-process manager logs nothing: failures show in assertions.
	log.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

func newCluster() (c *cluster, stop func(), err error) {
	env, cfg, err := testenv.Start("test/crd/flux")
	if err != nil {
		return nil, func() {}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop = func() { cancel(); _ = env.Stop() }
	c, err = connect(ctx, env, cfg)
	return c, stop, err
}

// connect starts the operator on the control plane and makes the
// clients the tests and the CLI use.
func connect(ctx context.Context, env *envtest.Environment, cfg *rest.Config) (*cluster, error) {
	scheme, err := kube.Scheme()
	if err != nil {
		return nil, err
	}
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: trustNamespace}}); err != nil {
		return nil, err
	}
	if err := startOperator(ctx, cfg, scheme); err != nil {
		return nil, err
	}
	kubeconfig, err := writeKubeconfig(env, cfg)
	if err != nil {
		return nil, err
	}
	return &cluster{k8s: k8s, kubeconfig: kubeconfig}, nil
}

// startOperator runs the operator's controllers in this process, with the
// settings controllers/suite_test.go uses for its in-process manager.
func startOperator(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) error {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      controllers.CacheOptions(),
		Client:     controllers.ClientOptions(),
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		TrustNamespace:         trustNamespace,
		Concurrency:            2,
		WriteConcurrency:       8,
		ConflictRetryInterval:  time.Second,
		VerifyTimeout:          5 * time.Second,
		APIDiscoveryInterval:   300 * time.Millisecond,
		RolloutRecheckInterval: time.Second,
		TargetSecretNames:      []string{v1alpha1.DefaultSecretName},
	}); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return nil
}

// writeKubeconfig writes a cluster-admin kubeconfig for the CLI, which
// reaches the cluster only through its --kubeconfig flag, as a user's would.
func writeKubeconfig(env *envtest.Environment, cfg *rest.Config) (string, error) {
	user, err := env.AddUser(envtest.User{Name: "cli-test", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return "", err
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "kubectl-vpol-test-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, raw, 0o600)
}

// apply creates the objects of manifest files, as kubectl apply -f would.
func (c *cluster) apply(t *testing.T, paths ...string) {
	t.Helper()
	set, err := manifests.Read(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var objs []client.Object
	for _, p := range set.Policies {
		objs = append(objs, p.DeepCopy())
	}
	for _, s := range set.Secrets {
		objs = append(objs, s.DeepCopy())
	}
	for _, cm := range set.ConfigMaps {
		objs = append(objs, cm.DeepCopy())
	}
	for _, b := range set.Bundles {
		// The control plane serves v1beta1 (test/envtest), the version of
		// the types the files are read into.
		objs = append(objs, b.DeepCopy())
	}
	for _, o := range objs {
		if err := c.k8s.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func (c *cluster) namespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	if err := c.k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
		t.Fatal(err)
	}
}

// ociRepository creates an OCIRepository verifying with the policy's
// Secret, and sets Flux's SourceVerified condition as source-controller
// would report it.
func (c *cluster) ociRepository(t *testing.T, ns, url, tag string, fluxVerified metav1.ConditionStatus) {
	t.Helper()
	ctx := context.Background()
	u := ocirepos.New()
	u.SetNamespace(ns)
	u.SetName("app")
	u.Object["spec"] = map[string]any{
		"url":      url,
		"interval": "10m",
		"insecure": true,
		"ref":      map[string]any{"tag": tag},
		"verify":   map[string]any{"provider": "notation", "secretRef": map[string]any{"name": v1alpha1.DefaultSecretName}},
	}
	if err := c.k8s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	cond := map[string]any{"type": "SourceVerified", "status": string(fluxVerified), "reason": "Succeeded",
		"message": "verified by the test", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
	if fluxVerified == metav1.ConditionFalse {
		cond["reason"] = "VerificationError"
	}
	// The operator annotates the OCIRepository as soon as it sees it, so the
	// status is written on the latest version, retrying on conflicts.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.k8s.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		if err := unstructured.SetNestedSlice(u.Object, []any{cond}, "status", "conditions"); err != nil {
			return err
		}
		return c.k8s.Status().Update(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) policy(g Gomega, name string) *v1alpha1.VerificationPolicy {
	p := &v1alpha1.VerificationPolicy{}
	g.Expect(c.k8s.Get(context.Background(), client.ObjectKey{Name: name}, p)).To(Succeed())
	return p
}

func (c *cluster) secret(g Gomega, ns string) *corev1.Secret {
	s := &corev1.Secret{}
	g.Expect(c.k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: v1alpha1.DefaultSecretName}, s)).To(Succeed())
	return s
}

// vpol runs kubectl vpol against the cluster.
func (c *cluster) vpol(t *testing.T, args ...string) result {
	t.Helper()
	return vpol(t, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
}

// writeFile writes content to a file in a fresh temporary folder.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// asYAML renders an object as a manifest.
func asYAML(t *testing.T, obj any) string {
	t.Helper()
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
