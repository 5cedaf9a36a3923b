package notation

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
)

// Media types of a Flux artifact (what `flux push artifact` writes), so the
// artifacts in tests look like the ones OCIRepositories pull.
const (
	FluxArtifactType   = "application/vnd.cncf.flux.config.v1+json"
	FluxLayerMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
)

// PushArtifact pushes a single-layer OCI 1.1 artifact of artifactType
// (FluxArtifactType when empty) holding content to repository
// ("host/repository") and returns the manifest's descriptor. The same
// content pushed twice gets the same digest only if nothing else differs:
// the manifest carries no timestamp, so it does.
func PushArtifact(ctx context.Context, r Remote, repository, artifactType string, content []byte) (ocispec.Descriptor, error) {
	if artifactType == "" {
		artifactType = FluxArtifactType
	}
	repo, err := r.Repository(repository)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layer, err := oras.PushBytes(ctx, repo, FluxLayerMediaType, content)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing layer: %w", err)
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{layer},
		// A fixed creation time keeps the digest a function of content.
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "2000-01-01T00:00:00Z"},
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing manifest: %w", err)
	}
	return desc, nil
}

// Tag points tag at desc in repository.
func Tag(ctx context.Context, r Remote, repository string, desc ocispec.Descriptor, tag string) error {
	repo, err := r.Repository(repository)
	if err != nil {
		return err
	}
	return repo.Tag(ctx, desc, tag)
}
