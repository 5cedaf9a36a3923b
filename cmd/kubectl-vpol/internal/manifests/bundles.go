package manifests

import (
	"context"
	"fmt"
	"slices"
	"strings"

	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/sources"
)

// ClusterTrustBundles are read from certificates.k8s.io/v1 and v1beta1
// documents alike, into the v1beta1 types: k8s.io/api has no v1 types yet,
// and both versions have the same fields, so strict decoding refuses the
// same typos in either. The operator's resolver reads them as unstructured
// objects of the version it asks for (controllers/sources), which is how
// the reader below hands them out.

const bundleKind = "ClusterTrustBundle"

var (
	bundleGroupKind   = sources.ClusterTrustBundleV1.GroupKind()
	bundleAPIVersions = []string{
		sources.ClusterTrustBundleV1.GroupVersion().String(),
		sources.ClusterTrustBundleV1beta1.GroupVersion().String(),
	}
)

func (s *Set) addBundle(where string, doc []byte) error {
	b := &certificatesv1beta1.ClusterTrustBundle{}
	if err := strict(where, doc, b); err != nil {
		return err
	}
	// Cluster-scoped: the API server drops a metadata.namespace.
	b.Namespace = ""
	if err := checkBundleName(b); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return s.keep(where, bundleKind, "", b.Name, func() { s.Bundles = append(s.Bundles, b) })
}

// checkBundleName applies the API server's naming rule, which ties a
// bundle to its signer: a bundle the cluster would refuse must not render
// offline as if it could be applied.
func checkBundleName(b *certificatesv1beta1.ClusterTrustBundle) error {
	if b.Name == "" {
		return nil // keep says so
	}
	if b.Spec.SignerName == "" {
		if strings.Contains(b.Name, ":") {
			return fmt.Errorf("ClusterTrustBundle %s: a bundle without spec.signerName may not have ':' in its name", b.Name)
		}
		return nil
	}
	prefix := strings.ReplaceAll(b.Spec.SignerName, "/", ":") + ":"
	if !strings.HasPrefix(b.Name, prefix) {
		return fmt.Errorf("ClusterTrustBundle %s: a bundle of signer %s must be named %s<suffix>", b.Name, b.Spec.SignerName, prefix)
	}
	return nil
}

// ClusterTrustBundles reads the files' ClusterTrustBundles for the
// operator's source resolver. Offline (apis nil) the files are the
// cluster, serving both versions. Against a cluster, apis is what the
// manager's discovery found served there (kube.DiscoverClusterTrustBundles):
// bundles the files do not hold are read from fallback at that version,
// and an API that is not served is the manager's
// ClusterTrustBundleAPINotServed whatever the files hold, since they could
// not be applied.
func (s *Set) ClusterTrustBundles(fallback client.Reader, apis *discovery.APIs) *sources.ClusterTrustBundles {
	r := &reader{set: s, fallback: fallback}
	if apis == nil {
		return &sources.ClusterTrustBundles{Reader: r, API: func() (schema.GroupVersionKind, discovery.State) {
			return sources.ClusterTrustBundleV1, discovery.Served
		}}
	}
	return sources.NewClusterTrustBundles(r, apis)
}

// bundleAs returns b as an unstructured object of gvk, the version asked for.
func bundleAs(b *certificatesv1beta1.ClusterTrustBundle, gvk schema.GroupVersionKind) (unstructured.Unstructured, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	if err != nil {
		return unstructured.Unstructured{}, err
	}
	u := unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

func (r *reader) getBundle(ctx context.Context, key client.ObjectKey, out *unstructured.Unstructured, opts []client.GetOption) error {
	gvk := out.GroupVersionKind()
	for _, b := range r.set.Bundles {
		if b.Name == key.Name {
			u, err := bundleAs(b, gvk)
			if err != nil {
				return err
			}
			out.Object = u.Object
			return nil
		}
	}
	if r.fallback != nil {
		return r.fallback.Get(ctx, key, out, opts...)
	}
	return apierrors.NewNotFound(schema.GroupResource{Group: bundleGroupKind.Group, Resource: "clustertrustbundles"}, key.Name)
}

// listBundles lists the bundles the label selector of opts matches: the
// cluster's (from fallback), with the files' in place of those of the same
// name, since the files are what would be applied.
func (r *reader) listBundles(ctx context.Context, list *unstructured.UnstructuredList, opts []client.ListOption) error {
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	if lo.FieldSelector != nil {
		return fmt.Errorf("manifests: listing ClusterTrustBundles by field is not supported")
	}
	sel := lo.LabelSelector
	if sel == nil {
		sel = labels.Everything()
	}
	var items []unstructured.Unstructured
	if r.fallback != nil {
		if err := r.fallback.List(ctx, list, opts...); err != nil {
			return err
		}
		items = list.Items
	}
	gvk := list.GroupVersionKind()
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	for _, b := range r.set.Bundles {
		items = slices.DeleteFunc(items, func(u unstructured.Unstructured) bool { return u.GetName() == b.Name })
		if !sel.Matches(labels.Set(b.Labels)) {
			continue
		}
		u, err := bundleAs(b, gvk)
		if err != nil {
			return err
		}
		items = append(items, u)
	}
	list.Items = items
	return nil
}
