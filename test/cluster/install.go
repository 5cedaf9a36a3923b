package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// FieldOwner names the tests and the demo in managedFields of what they apply.
const FieldOwner = "verification-operator-e2e"

// rbacKinds are the kinds of config/default that are applied: the manager's
// namespace and its identity with everything RBAC grants it. The CRDs are
// installed with InstallCRDs (alongside CRDs that are not ours), and the
// Deployment and its metrics Service are left out because there is no
// kubelet: bin/manager runs as a local process instead.
var rbacKinds = sets.New("Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")

// Install is config/default as `kustomize build` renders it: the names,
// namespace and RBAC a real installation gets.
type Install struct {
	objects []*unstructured.Unstructured
	// ServiceAccount is the manager's identity, and Namespace its namespace,
	// which is also its trust namespace (POD_NAMESPACE in the Deployment).
	ServiceAccount, Namespace string
}

// RenderInstall renders config/default with the kustomize API, in the order
// the kustomization asks for (kubectl apply -k applies in that order).
func RenderInstall() (*Install, error) { return RenderInstallOf("config/default") }

// RenderInstallOf renders another install overlay (a path relative to the
// repository root), for example config/with-registry-credentials.
func RenderInstallOf(overlay string) (*Install, error) {
	dir := filepath.Join(testenv.RepoRoot(), overlay)
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	resources, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", overlay, err)
	}
	in := &Install{}
	for _, r := range resources.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", overlay, r.CurId(), err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", overlay, r.CurId(), err)
		}
		in.objects = append(in.objects, obj)
	}
	sas := in.Objects("ServiceAccount")
	if len(sas) != 1 {
		return nil, fmt.Errorf("%s renders %d ServiceAccounts, want exactly the manager's", overlay, len(sas))
	}
	in.ServiceAccount, in.Namespace = sas[0].GetName(), sas[0].GetNamespace()
	return in, nil
}

// User is the user name the API server gives the manager's ServiceAccount.
func (in *Install) User() string {
	return "system:serviceaccount:" + in.Namespace + ":" + in.ServiceAccount
}

// Objects returns copies of the rendered objects of the given kinds, so
// callers may change them freely.
func (in *Install) Objects(kinds ...string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range in.objects {
		if slices.Contains(kinds, obj.GetKind()) {
			out = append(out, obj.DeepCopy())
		}
	}
	return out
}

// Extra returns copies of the objects of this install that base does not
// have (by kind and name): what an overlay adds to it.
func (in *Install) Extra(base *Install) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range in.objects {
		if base.Object(obj.GetKind(), obj.GetName()) == nil {
			out = append(out, obj.DeepCopy())
		}
	}
	return out
}

// Object returns a copy of the rendered object of that kind and name, or nil.
func (in *Install) Object(kind, name string) *unstructured.Unstructured {
	for _, obj := range in.Objects(kind) {
		if obj.GetName() == name {
			return obj
		}
	}
	return nil
}

// ApplyRBAC server-side applies the manager's namespace, ServiceAccount,
// Roles, ClusterRoles and their bindings exactly as rendered, then waits
// until the API server authorizes everything they grant: RBAC changes reach
// the authorizer asynchronously, and a manager started before they do would
// see spurious Forbidden errors.
func (in *Install) ApplyRBAC(ctx context.Context, c client.Client) error {
	for _, obj := range in.objects {
		if !rbacKinds.Has(obj.GetKind()) {
			continue
		}
		if err := Apply(ctx, c, obj); err != nil {
			return err
		}
	}
	return WaitAuthorized(ctx, c, in.User(), in.Grants()...)
}

// Apply server-side applies obj, taking over fields from other managers, so
// re-applying a rendered object restores it whoever changed it.
func Apply(ctx context.Context, c client.Client, obj *unstructured.Unstructured) error {
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", obj.GetKind(), client.ObjectKeyFromObject(obj), err)
	}
	return nil
}
