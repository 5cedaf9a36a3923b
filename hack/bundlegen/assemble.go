package main

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// bundle is what ends up in <output>/manifests.
type bundle struct {
	csv  *unstructured.Unstructured
	crds []*unstructured.Unstructured
	// extras are the other objects OLM installs with the operator.
	extras []*unstructured.Unstructured
}

// build is the kustomize output, sorted by role in the bundle.
type build struct {
	csv        *unstructured.Unstructured
	crds       []*unstructured.Unstructured
	deployment *unstructured.Unstructured
	samples    []*unstructured.Unstructured
	// rest is everything else: RBAC, the ServiceAccount, Services, ...
	rest []*unstructured.Unstructured
}

var (
	csvKind        = schema.GroupKind{Group: "operators.coreos.com", Kind: "ClusterServiceVersion"}
	crdKind        = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	deploymentKind = schema.GroupKind{Group: "apps", Kind: "Deployment"}
	namespaceKind  = schema.GroupKind{Kind: "Namespace"}
)

// split sorts the kustomize output by what the bundle does with each object.
func split(objs []*unstructured.Unstructured) (*build, error) {
	b := &build{}
	var deployments []*unstructured.Unstructured
	for _, obj := range objs {
		switch obj.GroupVersionKind().GroupKind() {
		case csvKind:
			if b.csv != nil {
				return nil, fmt.Errorf("more than one ClusterServiceVersion base")
			}
			b.csv = obj
		case crdKind:
			b.crds = append(b.crds, obj)
		case deploymentKind:
			deployments = append(deployments, obj)
		case namespaceKind:
			// The user picks the install namespace when subscribing; the
			// CSV suggests ours (operatorframework.io/suggested-namespace).
		default:
			b.rest = append(b.rest, obj)
		}
	}
	if b.csv == nil {
		return nil, fmt.Errorf("no ClusterServiceVersion base in the input")
	}
	if len(deployments) != 1 {
		return nil, fmt.Errorf("want exactly one Deployment (the manager), found %d", len(deployments))
	}
	b.deployment = deployments[0]

	// Instances of our own CRDs are the samples (alm-examples), not
	// objects to install.
	owned := map[schema.GroupKind]bool{}
	for _, crd := range b.crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		owned[schema.GroupKind{Group: group, Kind: kind}] = true
	}
	rest := b.rest[:0]
	for _, obj := range b.rest {
		if owned[obj.GroupVersionKind().GroupKind()] {
			b.samples = append(b.samples, obj)
		} else {
			rest = append(rest, obj)
		}
	}
	b.rest = rest
	return b, nil
}

// assemble turns the kustomize output into the bundle's objects.
func assemble(objs []*unstructured.Unstructured, o options, icon []byte) (*bundle, error) {
	in, err := split(objs)
	if err != nil {
		return nil, err
	}
	if err := setImage(in.deployment, o.image); err != nil {
		return nil, err
	}
	install, extras, err := installStrategy(in.deployment, in.rest)
	if err != nil {
		return nil, err
	}
	for _, obj := range extras {
		if err := checkExtra(obj); err != nil {
			return nil, err
		}
	}
	csv, err := completeCSV(in, install, o, icon)
	if err != nil {
		return nil, err
	}
	return &bundle{csv: csv, crds: in.crds, extras: extras}, nil
}

// setImage is `kustomize edit set image` for the manager container, done on
// the build output so that make bundle leaves config/ untouched.
func setImage(deployment *unstructured.Unstructured, image string) error {
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		c := c.(map[string]interface{})
		if c["name"] == managerContainer {
			c["image"] = image
			return unstructured.SetNestedSlice(deployment.Object, containers, "spec", "template", "spec", "containers")
		}
	}
	return fmt.Errorf("Deployment %s has no container named %q", deployment.GetName(), managerContainer)
}

const managerContainer = "manager"

// supportedExtras are the kinds OLM installs from a registry+v1 bundle
// besides the CSV and CRDs (operator-framework/operator-registry,
// pkg/lib/bundle/supported_resources.go), minus those we never ship.
var supportedExtras = map[schema.GroupKind]bool{
	{Kind: "ConfigMap"}:      true,
	{Kind: "Secret"}:         true,
	{Kind: "Service"}:        true,
	{Kind: "ServiceAccount"}: true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: true,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:               true,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        true,
	{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}:         true,
	{Group: "monitoring.coreos.com", Kind: "PrometheusRule"}:         true,
	{Group: "policy", Kind: "PodDisruptionBudget"}:                   true,
}

// checkExtra fails on objects OLM would refuse, and drops the namespace:
// OLM creates namespaced extras in the install namespace.
func checkExtra(obj *unstructured.Unstructured) error {
	if !supportedExtras[obj.GroupVersionKind().GroupKind()] {
		return fmt.Errorf("%s %s cannot be shipped in a registry+v1 bundle", obj.GetKind(), obj.GetName())
	}
	obj.SetNamespace("")
	return nil
}
