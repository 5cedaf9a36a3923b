package cluster

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// NotationOCIRepository returns the OCIRepository a Flux user writes to
// pull repository ("host/path") at tag and verify it with Notation, using
// the trust configuration in Secret secretName of the same namespace. The
// registries here speak plain HTTP, hence spec.insecure. Where the real
// source-controller runs (StartSourceController), it reconciles it.
func NotationOCIRepository(namespace, name, repository, tag, secretName string) *unstructured.Unstructured {
	o := ocirepos.New()
	o.SetNamespace(namespace)
	o.SetName(name)
	o.Object["spec"] = map[string]any{
		"url":      "oci://" + repository,
		"ref":      map[string]any{"tag": tag},
		"interval": "10m",
		"insecure": true,
		"verify": map[string]any{
			"provider":  trustconfig.ProviderNotation,
			"secretRef": map[string]any{"name": secretName},
		},
	}
	return o
}
