package checker

import (
	"context"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

// Kind is a kind of Flux object whose Notation verification a policy
// governs.
type Kind string

const (
	// OCIRepository: source.toolkit.fluxcd.io/v1 OCIRepository.
	OCIRepository Kind = "OCIRepository"
	// HelmChart: source.toolkit.fluxcd.io/v1 HelmChart from an OCI
	// HelmRepository.
	HelmChart Kind = "HelmChart"
)

// Kinds are every kind, in the order they are reported.
var Kinds = []Kind{OCIRepository, HelmChart}

// GVK is the API version of the kind's objects.
func (k Kind) GVK() schema.GroupVersionKind {
	if k == HelmChart {
		return helmcharts.GVK
	}
	return ocirepos.GVK
}

// Plural names the kind in messages, "OCIRepositories" or "HelmCharts".
func (k Kind) Plural() string {
	if k == OCIRepository {
		return "OCIRepositories"
	}
	return string(k) + "s"
}

// Artifact is one governed Flux object.
type Artifact struct {
	Kind Kind
	// Object is the object as read, for patches and events.
	Object *unstructured.Unstructured
	// Flux is the view of its status that fluxverdict judges.
	Flux fluxverdict.Source
	// Provider is a cloud provider (aws, azure, gcp) whose workload identity
	// only source-controller has, or "".
	Provider string

	repo     *ocirepos.Repository
	chart    *helmcharts.Chart
	helmRepo *sourcev1.HelmRepository
}

// Namespace and Name are the object's.
func (a *Artifact) Namespace() string { return a.Object.GetNamespace() }
func (a *Artifact) Name() string      { return a.Object.GetName() }

// Key names the object in messages, "<namespace>/<name>".
func (a *Artifact) Key() string { return a.Namespace() + "/" + a.Name() }

// ID identifies the object among every kind, "<kind>/<namespace>/<name>".
func (a *Artifact) ID() string { return string(a.Kind) + "/" + a.Key() }

// Labels are the object's.
func (a *Artifact) Labels() map[string]string { return a.Object.GetLabels() }

// Fingerprint is the trust fingerprint Flux reports having verified with
// (OCIRepositories, source-controller v1.10+), or "".
func (a *Artifact) Fingerprint() string { return a.Flux.Fingerprint }

func fromRepository(u *unstructured.Unstructured, r *ocirepos.Repository) *Artifact {
	p := r.Spec.Provider
	if !isCloudProvider(p) {
		p = ""
	}
	return &Artifact{Kind: OCIRepository, Object: u, Flux: r.Flux(), Provider: p, repo: r}
}

func fromChart(u *unstructured.Unstructured, c *helmcharts.Chart, repo *sourcev1.HelmRepository) *Artifact {
	p := repo.Spec.Provider
	if !isCloudProvider(p) {
		p = ""
	}
	return &Artifact{Kind: HelmChart, Object: u, Flux: c.Flux(), Provider: p, chart: c, helmRepo: repo}
}

// URL is the OCI repository a's artifact is in, "oci://host/path".
func (a *Artifact) URL() string {
	if a.Kind == HelmChart {
		return helmcharts.URL(a.chart, a.helmRepo)
	}
	return a.repo.Spec.URL
}

// Reference says which artifact of URL is verified.
func (a *Artifact) Reference() verify.Reference {
	if a.Kind == HelmChart {
		return verify.Reference{Chart: true, ChartVersion: helmcharts.Version(a.chart)}
	}
	return reference(a.repo)
}

// Revision is what Flux last pulled, as it reports it, or "".
func (a *Artifact) Revision() string {
	r, _, _ := unstructured.NestedString(a.Object.Object, "status", "artifact", "revision")
	return r
}

// request is the verification of a, with access read from its object's
// namespace (uncached); the trust is the caller's.
func (a *Artifact) request(ctx context.Context, reader client.Reader) (verify.Request, error) {
	switch a.Kind {
	case HelmChart:
		access, err := helmcharts.ReadAccess(ctx, reader, a.helmRepo)
		if err != nil {
			return verify.Request{}, err
		}
		return verify.Request{URL: a.URL(), Ref: a.Reference(), Access: access}, nil
	default:
		access, err := ocirepos.ReadAccess(ctx, reader, a.repo)
		if err != nil {
			return verify.Request{}, err
		}
		return verify.Request{URL: a.URL(), Ref: a.Reference(), Revision: revision(a.repo), Access: access}, nil
	}
}

func reference(repo *ocirepos.Repository) verify.Reference {
	if repo.Spec.Reference == nil {
		return verify.Reference{}
	}
	ref := repo.Spec.Reference
	return verify.Reference{Digest: ref.Digest, SemVer: ref.SemVer, SemverFilter: ref.SemverFilter, Tag: ref.Tag}
}

func revision(repo *ocirepos.Repository) string {
	if repo.Status.Artifact == nil {
		return ""
	}
	return repo.Status.Artifact.Revision
}

func isCloudProvider(p string) bool {
	return p == "aws" || p == "azure" || p == "gcp"
}

// KindState is what discovery knows of a kind's APIs: HelmCharts need both
// the HelmChart and the HelmRepository APIs. NotServed if one is not,
// Unknown while one is not known yet.
func KindState(apis *discovery.APIs, k Kind) discovery.State {
	states := []discovery.State{apis.State(k.GVK())}
	if k == HelmChart {
		states = append(states, apis.State(helmcharts.RepositoryGVK))
	}
	out := discovery.Served
	for _, s := range states {
		switch s {
		case discovery.NotServed:
			return discovery.NotServed
		case discovery.Unknown:
			out = discovery.Unknown
		}
	}
	return out
}

// AnyUnknown reports whether discovery has yet to look for a kind's APIs.
func AnyUnknown(apis *discovery.APIs) bool {
	for _, k := range Kinds {
		if KindState(apis, k) == discovery.Unknown {
			return true
		}
	}
	return false
}

// ServedIn tells, for a client without discovery (a command-line tool),
// which kinds' APIs the cluster serves: a list of one object of each of
// their kinds answers.
func ServedIn(ctx context.Context, c client.Reader) func(Kind) bool {
	served := map[Kind]bool{}
	probe := func(list *unstructured.UnstructuredList) bool {
		return c.List(ctx, list, client.Limit(1)) == nil
	}
	served[OCIRepository] = probe(ocirepos.NewList())
	served[HelmChart] = probe(helmcharts.NewList()) && probe(helmcharts.NewRepositoryList())
	return func(k Kind) bool { return served[k] }
}
