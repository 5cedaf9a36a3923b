package sources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// The ClusterTrustBundle API (certificates.k8s.io), in order of preference:
// v1 (planned GA), then v1beta1 (Kubernetes 1.33 to 1.36, behind the
// ClusterTrustBundle feature gate). k8s.io/api has typed objects for
// v1beta1 only, so both are read as unstructured objects: their fields
// (spec.signerName, spec.trustBundle) are the same.
var (
	ClusterTrustBundleV1       = schema.GroupVersionKind{Group: "certificates.k8s.io", Version: "v1", Kind: "ClusterTrustBundle"}
	ClusterTrustBundleV1beta1  = schema.GroupVersionKind{Group: "certificates.k8s.io", Version: "v1beta1", Kind: "ClusterTrustBundle"}
	ClusterTrustBundleVersions = []schema.GroupVersionKind{ClusterTrustBundleV1, ClusterTrustBundleV1beta1}
)

// ErrAPIDiscoveryPending is returned (wrapped) while discovery has not yet
// looked for the ClusterTrustBundle API, just after the manager started: it
// is not bad input, and the caller waits briefly rather than report one.
var ErrAPIDiscoveryPending = errors.New("waiting to learn which ClusterTrustBundle API version is served")

// bundleReadTimeout bounds a read of ClusterTrustBundles. The cache waits for
// its informer to sync, which never happens if the manager may not list
// them: the reconcile then fails and is retried, rather than hang a worker.
const bundleReadTimeout = 30 * time.Second

// ClusterTrustBundleAPI is what discovery knows of the ClusterTrustBundle
// API: the version to read (v1 when served, else v1beta1) with Served;
// Unknown while a more preferred version has not been looked up yet;
// NotServed when neither is served.
func ClusterTrustBundleAPI(apis *discovery.APIs) (schema.GroupVersionKind, discovery.State) {
	for _, gvk := range ClusterTrustBundleVersions {
		switch apis.State(gvk) {
		case discovery.Served:
			return gvk, discovery.Served
		case discovery.Unknown:
			return schema.GroupVersionKind{}, discovery.Unknown
		}
	}
	return schema.GroupVersionKind{}, discovery.NotServed
}

// ClusterTrustBundles reads ClusterTrustBundles, which are cluster-scoped:
// nothing namespaced is read through it.
type ClusterTrustBundles struct {
	// Reader reads them as unstructured objects of the served version: the
	// manager's cache, whose informers the watches share.
	Reader client.Reader
	// API says which version to read, or that none can be (see
	// ClusterTrustBundleAPI).
	API func() (schema.GroupVersionKind, discovery.State)
}

// NewClusterTrustBundles reads through reader at the version apis finds
// served.
func NewClusterTrustBundles(reader client.Reader, apis *discovery.APIs) *ClusterTrustBundles {
	return &ClusterTrustBundles{
		Reader: reader,
		API:    func() (schema.GroupVersionKind, discovery.State) { return ClusterTrustBundleAPI(apis) },
	}
}

// bundle is one ClusterTrustBundle as read.
type bundle struct {
	name, signerName, trustBundle string
}

// BundleFromUnstructured decodes the fields of a ClusterTrustBundle the
// operator uses, from any served version.
func BundleFromUnstructured(u *unstructured.Unstructured) (signerName, trustBundle string, err error) {
	signerName, _, err = unstructured.NestedString(u.Object, "spec", "signerName")
	if err != nil {
		return "", "", fmt.Errorf("ClusterTrustBundle %s: spec.signerName: %w", u.GetName(), err)
	}
	trustBundle, _, err = unstructured.NestedString(u.Object, "spec", "trustBundle")
	if err != nil {
		return "", "", fmt.Errorf("ClusterTrustBundle %s: spec.trustBundle: %w", u.GetName(), err)
	}
	return signerName, trustBundle, nil
}

// resolve returns the source's certificates, one part per bundle in name
// order, or no parts when an optional selection is empty. A bundle that
// is not there is a Waiting *inputerror.Error, as is an API that is not
// served.
func (b *ClusterTrustBundles) resolve(ctx context.Context, c v1alpha1.CertificateSource) (trustconfig.Source, error) {
	src := trustconfig.Source{Name: c.Name, Type: c.Type, FromObject: true, RequireCA: true}
	ref := c.ClusterTrustBundle
	if b == nil || b.Reader == nil || b.API == nil {
		// A wiring mistake, not bad input: the manager and kubectl vpol
		// always give the Resolver one.
		return src, fmt.Errorf("certificates[%s]: clusterTrustBundle sources cannot be read here: the Resolver has no ClusterTrustBundles reader", c.Name)
	}
	gvk, state := b.API()
	switch state {
	case discovery.Unknown:
		return src, fmt.Errorf("certificates[%s]: %w", c.Name, ErrAPIDiscoveryPending)
	case discovery.NotServed:
		return src, apiNotServed(c.Name)
	}

	ctx, cancel := context.WithTimeout(ctx, bundleReadTimeout)
	defer cancel()
	var found []bundle
	if ref.Name != "" {
		src.Origin = "ClusterTrustBundle " + ref.Name
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		err := b.Reader.Get(ctx, client.ObjectKey{Name: ref.Name}, u)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return src, fmt.Errorf("reading ClusterTrustBundle %s for certificates[%s]: %w", ref.Name, c.Name, err)
		default:
			one, err := decode(u)
			if err != nil {
				return src, err
			}
			found = append(found, one)
		}
	} else {
		sel, err := bundleSelector(c.Name, ref.LabelSelector)
		if err != nil {
			return src, err
		}
		src.Origin = "ClusterTrustBundles of signer " + ref.SignerName
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := b.Reader.List(ctx, list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return src, fmt.Errorf("listing ClusterTrustBundles of signer %s for certificates[%s]: %w", ref.SignerName, c.Name, err)
		}
		for i := range list.Items {
			one, err := decode(&list.Items[i])
			if err != nil {
				return src, err
			}
			if one.signerName == ref.SignerName {
				found = append(found, one)
			}
		}
		// Name order, as a projected volume concatenates them.
		slices.SortFunc(found, func(a, b bundle) int { return strings.Compare(a.name, b.name) })
	}

	if len(found) == 0 && !ref.Optional {
		return src, bundleNotFound(c.Name, ref)
	}
	for _, f := range found {
		src.Parts = append(src.Parts, trustconfig.Part{Object: "ClusterTrustBundle " + f.name, PEM: []byte(f.trustBundle)})
	}
	return src, nil
}

func decode(u *unstructured.Unstructured) (bundle, error) {
	signer, pem, err := BundleFromUnstructured(u)
	if err != nil {
		return bundle{}, err
	}
	return bundle{name: u.GetName(), signerName: signer, trustBundle: pem}, nil
}

// bundleSelector is the label selector of a signerName source: every bundle
// of the signer when unset.
func bundleSelector(source string, s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, &inputerror.Error{
			Kind:    inputerror.Stalling,
			Reason:  v1alpha1.ReasonInvalidSpec,
			Field:   fmt.Sprintf("certificates[%s].clusterTrustBundle.labelSelector", source),
			Message: fmt.Sprintf("invalid label selector: %v", err),
		}
	}
	return sel, nil
}

// ClusterTrustBundleNames returns the ClusterTrustBundles the certificate
// sources name; the controller indexes policies by them.
func ClusterTrustBundleNames(certs []v1alpha1.CertificateSource) []string {
	return bundleRefs(certs, func(s *v1alpha1.ClusterTrustBundleSource) string { return s.Name })
}

// ClusterTrustBundleSigners returns the signer names the certificate sources
// select bundles of; a bundle of one of them, created, changed or deleted,
// may change the policy's certificates.
func ClusterTrustBundleSigners(certs []v1alpha1.CertificateSource) []string {
	return bundleRefs(certs, func(s *v1alpha1.ClusterTrustBundleSource) string { return s.SignerName })
}

// bundleRefs returns field of every clusterTrustBundle source that sets it.
func bundleRefs(certs []v1alpha1.CertificateSource, field func(*v1alpha1.ClusterTrustBundleSource) string) []string {
	var out []string
	for _, c := range certs {
		if c.ClusterTrustBundle != nil && field(c.ClusterTrustBundle) != "" {
			out = append(out, field(c.ClusterTrustBundle))
		}
	}
	return out
}

// UsesClusterTrustBundles reports whether a certificate source is a
// clusterTrustBundle source.
func UsesClusterTrustBundles(certs []v1alpha1.CertificateSource) bool {
	return slices.ContainsFunc(certs, func(c v1alpha1.CertificateSource) bool { return c.ClusterTrustBundle != nil })
}
