package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/sources"
)

// DiscoverClusterTrustBundles learns which ClusterTrustBundle API the
// cluster serves with the manager's own discovery (discovery.APIs over a
// REST mapper such as the client's, which sources.ClusterTrustBundleAPI
// reads: v1, else v1beta1, else not served). It looks once: a command does
// not wait for an API to appear. When discovery itself fails (not "not
// served": the API server did not answer) the error says why, where the
// manager would look again.
func DiscoverClusterTrustBundles(mapper meta.RESTMapper) (*discovery.APIs, error) {
	rec := &recordingMapper{RESTMapper: mapper}
	apis := discovery.New(rec, time.Hour)
	for _, gvk := range sources.ClusterTrustBundleVersions {
		apis.Watch(gvk, discovery.Handler{})
	}
	// Start looks at once, then returns when its context is done, before
	// the next look an interval later: with a done context it looks once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := apis.Start(ctx); err != nil {
		return nil, err
	}
	if _, state := sources.ClusterTrustBundleAPI(apis); state == discovery.Unknown {
		err := rec.err
		if err == nil {
			err = errors.New("the API server did not say")
		}
		return nil, fmt.Errorf("learning which ClusterTrustBundle API the cluster serves: %w", err)
	}
	return apis, nil
}

// recordingMapper keeps the last discovery failure that is not "no such
// kind", which discovery.APIs logs for the manager and a command reports.
type recordingMapper struct {
	meta.RESTMapper
	err error
}

func (m *recordingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	mapping, err := m.RESTMapper.RESTMapping(gk, versions...)
	if err != nil && !meta.IsNoMatchError(err) {
		m.err = err
	}
	return mapping, err
}
