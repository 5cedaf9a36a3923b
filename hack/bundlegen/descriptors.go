package main

import (
	"fmt"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// checkOwnedCRDs keeps the hand-written owned-CRD descriptions honest: every
// bundled CRD is described, every description names a served version and
// the right kind, and every spec/status descriptor path exists in that
// version's schema. Without it, renaming an API field would leave the
// console pointing at nothing, and no validator would notice.
func checkOwnedCRDs(csv *unstructured.Unstructured, crds []*unstructured.Unstructured) error {
	var owned operatorsv1alpha1.CustomResourceDefinitions
	if m, found, _ := unstructured.NestedMap(csv.Object, "spec", "customresourcedefinitions"); found {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &owned); err != nil {
			return fmt.Errorf("CSV base spec.customresourcedefinitions: %w", err)
		}
	}
	described := map[string]operatorsv1alpha1.CRDDescription{}
	for _, d := range owned.Owned {
		described[d.Name] = d
	}
	for _, obj := range crds {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &crd); err != nil {
			return fmt.Errorf("CRD %s: %w", obj.GetName(), err)
		}
		d, ok := described[crd.Name]
		if !ok {
			return fmt.Errorf("CRD %s is not described in the CSV base's spec.customresourcedefinitions.owned", crd.Name)
		}
		delete(described, crd.Name)
		if err := checkDescription(d, &crd); err != nil {
			return fmt.Errorf("owned CRD %s: %w", crd.Name, err)
		}
	}
	for name := range described {
		return fmt.Errorf("the CSV base describes CRD %s, which is not in the build", name)
	}
	return nil
}

func checkDescription(d operatorsv1alpha1.CRDDescription, crd *apiextensionsv1.CustomResourceDefinition) error {
	if d.Kind != crd.Spec.Names.Kind {
		return fmt.Errorf("kind %q, but the CRD's kind is %q", d.Kind, crd.Spec.Names.Kind)
	}
	var schema *apiextensionsv1.JSONSchemaProps
	for _, v := range crd.Spec.Versions {
		if v.Name == d.Version && v.Served && v.Schema != nil {
			schema = v.Schema.OpenAPIV3Schema
		}
	}
	if schema == nil {
		return fmt.Errorf("version %q is not a served version with a schema", d.Version)
	}
	for _, s := range d.SpecDescriptors {
		if !hasPath(schema, "spec."+s.Path) {
			return fmt.Errorf("spec descriptor %q: no such field in the schema", s.Path)
		}
	}
	for _, s := range d.StatusDescriptors {
		if !hasPath(schema, "status."+s.Path) {
			return fmt.Errorf("status descriptor %q: no such field in the schema", s.Path)
		}
	}
	return nil
}

// hasPath follows a descriptor path (dot-separated field names; list
// indexes like [0] are not used by our descriptors) through the schema,
// stepping into list items transparently as the console does.
func hasPath(schema *apiextensionsv1.JSONSchemaProps, path string) bool {
	for _, field := range strings.Split(path, ".") {
		for schema.Type == "array" && schema.Items != nil && schema.Items.Schema != nil {
			schema = schema.Items.Schema
		}
		next, ok := schema.Properties[field]
		if !ok {
			return false
		}
		schema = &next
	}
	return true
}
