package main

import (
	"fmt"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// installStrategy builds the CSV's spec.install from the manager Deployment
// and the RBAC bound to its ServiceAccount. OLM creates that ServiceAccount,
// and Roles/ClusterRoles with their bindings, from the CSV itself, so those
// objects are consumed here; everything else in rest is returned as an
// extra bundle object.
//
// OLM grants `permissions` in the namespace the operator is installed into
// only. That is exactly where the manager's namespaced RBAC belongs: its
// leader election Lease, and the trust namespace, which is the manager's
// own namespace (POD_NAMESPACE). A Role bound in any other namespace cannot
// be expressed in a CSV, so it is an error rather than silently widened.
func installStrategy(deployment *unstructured.Unstructured, rest []*unstructured.Unstructured) (map[string]interface{}, []*unstructured.Unstructured, error) {
	ns := deployment.GetNamespace()
	sa, _, _ := unstructured.NestedString(deployment.Object, "spec", "template", "spec", "serviceAccountName")
	if sa == "" || sa == "default" {
		return nil, nil, fmt.Errorf("Deployment %s must run as its own ServiceAccount", deployment.GetName())
	}

	roles := map[roleKey]*unstructured.Unstructured{}
	for _, obj := range rest {
		if k, ok := keyOf(obj); ok {
			roles[k] = obj
		}
	}

	consumed := map[*unstructured.Unstructured]bool{}
	var namespaced, cluster []roleKey
	for _, obj := range rest {
		switch obj.GetKind() {
		case "ServiceAccount":
			if obj.GetName() == sa && obj.GetNamespace() == ns {
				consumed[obj] = true
			}
		case "RoleBinding", "ClusterRoleBinding":
			var b rbacv1.RoleBinding // same fields as a ClusterRoleBinding
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &b); err != nil {
				return nil, nil, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
			bound, err := bindsOnly(b.Subjects, sa, ns)
			if err != nil {
				return nil, nil, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
			if !bound {
				continue
			}
			if obj.GetKind() == "RoleBinding" && obj.GetNamespace() != ns {
				return nil, nil, fmt.Errorf("RoleBinding %s/%s: OLM only grants namespaced permissions in the install namespace (%s)", obj.GetNamespace(), obj.GetName(), ns)
			}
			ref := roleKey{kind: b.RoleRef.Kind, name: b.RoleRef.Name}
			if ref.kind == "Role" {
				ref.namespace = obj.GetNamespace()
			}
			role, ok := roles[ref]
			if !ok {
				return nil, nil, fmt.Errorf("%s %s refers to %s, which is not in the build", obj.GetKind(), obj.GetName(), ref)
			}
			consumed[obj], consumed[role] = true, true
			if obj.GetKind() == "RoleBinding" {
				namespaced = append(namespaced, ref)
			} else {
				cluster = append(cluster, ref)
			}
		}
	}

	spec := map[string]interface{}{}
	deploymentSpec, _, _ := unstructured.NestedMap(deployment.Object, "spec")
	d := map[string]interface{}{"name": deployment.GetName(), "spec": deploymentSpec}
	if labels := deployment.GetLabels(); len(labels) > 0 {
		d["label"] = toInterfaceMap(labels)
	}
	spec["deployments"] = []interface{}{d}
	if p := permissions(sa, namespaced, roles); p != nil {
		spec["permissions"] = p
	}
	if p := permissions(sa, cluster, roles); p != nil {
		spec["clusterPermissions"] = p
	}

	var extras []*unstructured.Unstructured
	for _, obj := range rest {
		if !consumed[obj] {
			extras = append(extras, obj)
		}
	}
	return map[string]interface{}{"strategy": "deployment", "spec": spec}, extras, nil
}

type roleKey struct{ kind, namespace, name string }

func (k roleKey) String() string {
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

func keyOf(obj *unstructured.Unstructured) (roleKey, bool) {
	switch obj.GetKind() {
	case "Role":
		return roleKey{kind: "Role", namespace: obj.GetNamespace(), name: obj.GetName()}, true
	case "ClusterRole":
		return roleKey{kind: "ClusterRole", name: obj.GetName()}, true
	}
	return roleKey{}, false
}

// bindsOnly reports whether subjects name the manager's ServiceAccount. A
// binding that also grants someone else cannot move into the CSV (OLM would
// bind the rules to the ServiceAccount only), so that is an error.
func bindsOnly(subjects []rbacv1.Subject, sa, ns string) (bool, error) {
	found := false
	for _, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == ns {
			found = true
		}
	}
	if found && len(subjects) != 1 {
		return false, fmt.Errorf("binds the manager's ServiceAccount together with other subjects")
	}
	return found, nil
}

// permissions is one CSV permissions entry holding the rules of the given
// roles, in role name order so the output does not depend on the order of
// the kustomization's resources.
func permissions(sa string, keys []roleKey, roles map[roleKey]*unstructured.Unstructured) []interface{} {
	if len(keys) == 0 {
		return nil
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	rules := []interface{}{}
	for i, k := range keys {
		if i > 0 && k == keys[i-1] {
			continue // bound twice
		}
		r, _, _ := unstructured.NestedSlice(roles[k].Object, "rules")
		rules = append(rules, r...)
	}
	return []interface{}{map[string]interface{}{"serviceAccountName": sa, "rules": rules}}
}

func toInterfaceMap(m map[string]string) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
