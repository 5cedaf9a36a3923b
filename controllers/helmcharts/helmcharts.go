package helmcharts

import (
	"fmt"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// GVK and RepositoryGVK are the HelmChart and HelmRepository API versions
// this operator reads: source-controller v1.9+ serves and stores only v1.
var (
	GVK           = schema.GroupVersionKind{Group: sourcev1.GroupVersion.Group, Version: "v1", Kind: sourcev1.HelmChartKind}
	RepositoryGVK = schema.GroupVersionKind{Group: sourcev1.GroupVersion.Group, Version: "v1", Kind: sourcev1.HelmRepositoryKind}
)

// Chart is a HelmChart as read from the API server.
type Chart struct {
	sourcev1.HelmChart
}

// New returns an empty unstructured HelmChart for the client and cache.
func New() *unstructured.Unstructured { return newObject(GVK) }

// NewList returns an empty unstructured HelmChart list.
func NewList() *unstructured.UnstructuredList { return newList(GVK) }

// NewRepository returns an empty unstructured HelmRepository.
func NewRepository() *unstructured.Unstructured { return newObject(RepositoryGVK) }

// NewRepositoryList returns an empty unstructured HelmRepository list.
func NewRepositoryList() *unstructured.UnstructuredList { return newList(RepositoryGVK) }

func newObject(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

func newList(gvk schema.GroupVersionKind) *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	return l
}

// FromUnstructured converts tolerantly: unknown fields are ignored.
func FromUnstructured(u *unstructured.Unstructured) (*Chart, error) {
	c := &Chart{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &c.HelmChart); err != nil {
		return nil, fmt.Errorf("decoding HelmChart %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return c, nil
}

// RepositoryFromUnstructured converts a HelmRepository tolerantly.
func RepositoryFromUnstructured(u *unstructured.Unstructured) (*sourcev1.HelmRepository, error) {
	r := &sourcev1.HelmRepository{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, r); err != nil {
		return nil, fmt.Errorf("decoding HelmRepository %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return r, nil
}

// UsesSecretName reports whether c verifies with Notation using a Secret of
// that name, for mapping HelmChart events to policies cheaply.
func UsesSecretName(c *Chart, name string) bool {
	v := c.Spec.Verify
	return v != nil && v.Provider == trustconfig.ProviderNotation && v.SecretRef != nil && v.SecretRef.Name == name
}

// RepositoryName returns the HelmRepository c is built from, or "" when
// its source is a GitRepository or a Bucket.
func RepositoryName(c *Chart) string {
	if c.Spec.SourceRef.Kind != sourcev1.HelmRepositoryKind {
		return ""
	}
	return c.Spec.SourceRef.Name
}

// Governs reports whether the policy governs c: c lives in one of the
// policy's targeted namespaces, verifies with Notation using the policy's
// Secret name, matches the policy's HelmChart selector if any, and is built
// from repo, an OCI HelmRepository (charts from a GitRepository, a Bucket or
// an HTTP HelmRepository carry no Notation signature).
func Governs(p *v1alpha1.VerificationPolicy, selector labels.Selector, targeted map[string]bool, c *Chart, repo *sourcev1.HelmRepository) bool {
	if !UsesSecretName(c, p.SecretName()) || !targeted[c.Namespace] {
		return false
	}
	if repo == nil || repo.Spec.Type != sourcev1.HelmRepositoryTypeOCI {
		return false
	}
	return selector == nil || selector.Matches(labels.Set(c.Labels))
}

// URL is the chart's OCI repository: the HelmRepository's URL and the
// chart's name, as source-controller joins them.
func URL(c *Chart, repo *sourcev1.HelmRepository) string {
	return strings.TrimSuffix(repo.Spec.URL, "/") + "/" + c.Spec.Chart
}

// Version is the chart version to verify: the one Flux pulled
// (status.artifact.revision) when it says, else spec.version. With
// valuesFiles Flux appends the generation to the revision's version, so the
// revision no longer names a tag and spec.version is used.
func Version(c *Chart) string {
	if a := c.Status.Artifact; a != nil && a.Revision != "" && len(c.Spec.ValuesFiles) == 0 {
		return a.Revision
	}
	return c.Spec.Version
}

// Flux is the view fluxverdict judges: source-controller verifies a chart
// from an OCI HelmRepository on every reconcile.
func (c *Chart) Flux() fluxverdict.Source {
	return fluxverdict.Source{
		Annotations:            c.Annotations,
		Conditions:             c.Status.Conditions,
		Generation:             c.Generation,
		LastHandledReconcileAt: c.Status.LastHandledReconcileAt,
		EveryReconcile:         true,
		Suspended:              c.Spec.Suspend,
	}
}
