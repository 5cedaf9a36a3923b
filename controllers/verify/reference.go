package verify

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// ociPrefix is the scheme of an OCIRepository URL.
const ociPrefix = "oci://"

// parseRepository validates spec.url as source-controller's parseRepository
// does and returns go-containerregistry's name for it. Its Name() is what
// Flux builds the artifact reference from, so it is what trust policy
// registryScopes are matched against: "docker.io/org/app" becomes
// "index.docker.io/org/app", "localhost:5000/app" stays as it is.
func parseRepository(url string, insecure bool) (name.Repository, error) {
	if !strings.HasPrefix(url, ociPrefix) {
		return name.Repository{}, fmt.Errorf("URL must be in format 'oci://<domain>/<org>/<repo>'")
	}
	trimmed := strings.TrimPrefix(url, ociPrefix)
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(trimmed, opts...)
	if err != nil {
		return name.Repository{}, err
	}
	// Flux refuses a tag in the URL: the ref says which artifact.
	if s := strings.Split(strings.TrimPrefix(trimmed, repo.RegistryStr()), ":"); len(s) > 1 {
		return name.Repository{}, fmt.Errorf("URL must not contain a tag; remove ':%s'", s[1])
	}
	return repo, nil
}

// artifactReference is the reference Flux passes to notation.Verify:
// "<registry>/<repository>@<digest>".
func artifactReference(repo name.Repository, dgst digest.Digest) string {
	return repo.Name() + "@" + dgst.String()
}

// digestFromRevision returns the digest in an OCIRepository revision,
// "<tag>@<digest>" or "<digest>". ok is false for an empty revision;
// an error means the revision has a digest part that is not a digest.
func digestFromRevision(revision string) (dgst digest.Digest, tag string, ok bool, err error) {
	if revision == "" {
		return "", "", false, nil
	}
	tag, d, found := strings.Cut(revision, "@")
	if !found {
		tag, d = "", revision
	}
	dgst, err = digest.Parse(d)
	if err != nil {
		return "", "", false, fmt.Errorf("revision %q does not carry a digest: %w", revision, err)
	}
	return dgst, tag, true, nil
}

// revisionString is Flux's revision format for a digest reached through tag.
func revisionString(tag string, dgst digest.Digest) string {
	if tag == "" {
		return dgst.String()
	}
	return tag + "@" + dgst.String()
}
