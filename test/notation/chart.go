package notation

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
)

// Media types of a Helm chart in an OCI registry (what `helm push` writes).
const (
	HelmConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
	HelmChartMediaType  = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// ChartPackage is a packaged chart (what `helm package` writes): a gzipped
// tar of <name>/Chart.yaml, values.yaml and one template.
func ChartPackage(name, version string) ([]byte, error) {
	files := []struct{ path, body string }{
		{name + "/Chart.yaml", fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ndescription: a test chart\ntype: application\n", name, version)},
		{name + "/values.yaml", "message: hello\n"},
		{name + "/templates/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  message: {{ .Values.message | quote }}\n"},
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.path, Mode: 0o644, Size: int64(len(f.body))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ChartTag is the tag `helm push` gives a version: "+" is not allowed in
// an OCI tag and is written "_".
func ChartTag(version string) string { return strings.ReplaceAll(version, "+", "_") }

// PushChart pushes chart name at version to "<repository>/<name>" as
// `helm push` does (the chart's metadata as the config, the package as the
// one layer) and tags it ChartTag(version). It returns the manifest's
// descriptor.
func PushChart(ctx context.Context, r Remote, repository, name, version string) (ocispec.Descriptor, error) {
	pkg, err := ChartPackage(name, version)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	ref := repository + "/" + name
	repo, err := r.Repository(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	meta, err := json.Marshal(map[string]string{"apiVersion": "v2", "name": name, "version": version, "type": "application"})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	config, err := oras.PushBytes(ctx, repo, HelmConfigMediaType, meta)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the chart's config: %w", err)
	}
	layer, err := oras.PushBytes(ctx, repo, HelmChartMediaType, pkg)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the chart: %w", err)
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{
		ConfigDescriptor:    &config,
		Layers:              []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "2000-01-01T00:00:00Z"},
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the chart's manifest: %w", err)
	}
	if err := repo.Tag(ctx, desc, ChartTag(version)); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}
