package main

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func objects(t *testing.T, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
	return out
}

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: op, namespace: ops}
spec:
  template:
    spec:
      serviceAccountName: op`

const binding = `
apiVersion: rbac.authorization.k8s.io/v1
kind: %s
metadata: {name: b, namespace: %s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: %s, name: %s}
subjects: [%s]`

// bind is a binding of kind to roleKind/role, by default for the manager's
// ServiceAccount only.
func bind(kind, ns, roleKind, role string, subjects ...string) string {
	if len(subjects) == 0 {
		subjects = []string{"{kind: ServiceAccount, name: op, namespace: ops}"}
	}
	return fmt.Sprintf(binding, kind, ns, roleKind, role, strings.Join(subjects, ", "))
}

const roles = `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leases, namespace: ops}
rules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster}
rules: [{apiGroups: [""], resources: [namespaces], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: unbound}
rules: [{nonResourceURLs: [/metrics], verbs: [get]}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: op, namespace: ops}`

func TestInstallStrategyMovesBoundRBACIntoTheCSV(t *testing.T) {
	g := NewWithT(t)
	rest := objects(t, roles+"\n---\n"+bind("RoleBinding", "ops", "Role", "leases")+"\n---\n"+bind("ClusterRoleBinding", "", "ClusterRole", "cluster"))
	install, extras, err := installStrategy(objects(t, deployment)[0], rest)
	g.Expect(err).NotTo(HaveOccurred())

	spec := install["spec"].(map[string]interface{})
	g.Expect(spec["permissions"]).To(HaveLen(1))
	g.Expect(spec["permissions"].([]interface{})[0]).To(HaveKeyWithValue("rules", ConsistOf(HaveKeyWithValue("resources", ConsistOf("leases")))))
	g.Expect(spec["clusterPermissions"].([]interface{})[0]).To(HaveKeyWithValue("rules", ConsistOf(HaveKeyWithValue("resources", ConsistOf("namespaces")))))
	g.Expect(spec["clusterPermissions"].([]interface{})[0]).To(HaveKeyWithValue("serviceAccountName", "op"))

	// OLM creates the ServiceAccount, roles and bindings itself; only the
	// ClusterRole nobody binds to the manager stays a bundle object.
	g.Expect(extras).To(HaveLen(1))
	g.Expect(extras[0].GetName()).To(Equal("unbound"))
}

func TestInstallStrategyRefusesWhatACSVCannotExpress(t *testing.T) {
	for _, tc := range []struct{ name, rest, err string }{{
		name: "binding shared with another subject",
		rest: bind("ClusterRoleBinding", "", "ClusterRole", "cluster",
			"{kind: ServiceAccount, name: op, namespace: ops}", "{kind: Group, name: admins}"),
		err: "together with other subjects",
	}, {
		name: "Role outside the install namespace",
		rest: bind("RoleBinding", "elsewhere", "Role", "leases"),
		err:  "only grants namespaced permissions in the install namespace",
	}, {
		name: "binding to a missing role",
		rest: bind("ClusterRoleBinding", "", "ClusterRole", "missing"),
		err:  "not in the build",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := installStrategy(objects(t, deployment)[0], objects(t, roles+"\n---\n"+tc.rest))
			NewWithT(t).Expect(err).To(MatchError(ContainSubstring(tc.err)))
		})
	}
}

func TestHasPath(t *testing.T) {
	g := NewWithT(t)
	var schema apiextensionsv1.JSONSchemaProps
	g.Expect(yaml.Unmarshal([]byte(`
type: object
properties:
  spec:
    type: object
    properties:
      certificates:
        type: array
        items:
          type: object
          properties:
            name: {type: string}
`), &schema)).To(Succeed())
	g.Expect(hasPath(&schema, "spec.certificates")).To(BeTrue())
	g.Expect(hasPath(&schema, "spec.certificates.name")).To(BeTrue(), "steps into list items")
	g.Expect(hasPath(&schema, "spec.certificate")).To(BeFalse())
	g.Expect(hasPath(&schema, "spec.certificates.name.first")).To(BeFalse())
}
