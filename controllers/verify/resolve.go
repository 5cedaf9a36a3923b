package verify

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry/remote"
)

// defaultTag is what Flux pulls when spec.ref says nothing.
const defaultTag = "latest"

// resolveError marks a reference that cannot be resolved for a reason other
// than the registry's answer (a bad semver range or filter).
type resolveError struct{ err error }

func (e *resolveError) Error() string { return e.err.Error() }
func (e *resolveError) Unwrap() error { return e.err }

// notFoundError marks a semver range that no tag satisfies.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// staticDigest returns the digest known without asking the registry:
// spec.ref.digest. Flux gives it precedence over semver and tag.
func staticDigest(ref Reference) (digest.Digest, bool, error) {
	if ref.Digest == "" {
		return "", false, nil
	}
	d, err := digest.Parse(ref.Digest)
	if err != nil {
		return "", false, &resolveError{fmt.Errorf("invalid digest %q in spec.ref: %w", ref.Digest, err)}
	}
	return d, true, nil
}

// resolveRef resolves spec.ref (without a digest) the way
// source-controller's getArtifactRef and getRevision do: semver over the
// repository's tags, else the tag, else "latest"; the tag is then resolved
// to a manifest digest. It returns the digest and the tag it came from.
func resolveRef(ctx context.Context, repo *remote.Repository, repoName name.Repository, ref Reference) (digest.Digest, string, error) {
	tag := ref.Tag
	switch {
	case ref.Chart:
		t, err := chartTag(ctx, repo, repoName, ref.ChartVersion)
		if err != nil {
			return "", "", err
		}
		tag = t
	case ref.SemVer != "":
		t, err := tagBySemver(ctx, repo, ref.SemVer, ref.SemverFilter)
		if err != nil {
			return "", "", err
		}
		tag = t
	case tag == "":
		tag = defaultTag
	}
	desc, err := repo.Resolve(ctx, tag)
	if err != nil {
		return "", tag, err
	}
	return desc.Digest, tag, nil
}

// tagBySemver lists every tag and returns the highest one satisfying exp,
// after keeping only tags matching filter (a regular expression) when set.
// Tags are parsed like Flux's version.ParseVersion: strict SemVer with an
// optional leading "v", the original spelling kept for the tag.
func tagBySemver(ctx context.Context, repo *remote.Repository, exp, filter string) (string, error) {
	constraint, err := semver.NewConstraint(exp)
	if err != nil {
		return "", &resolveError{fmt.Errorf("semver '%s' parse error: %w", exp, err)}
	}
	var match *regexp.Regexp
	if filter != "" {
		if match, err = regexp.Compile(filter); err != nil {
			return "", &resolveError{fmt.Errorf("semverFilter '%s' parse error: %w", filter, err)}
		}
	}

	var matching []*semver.Version
	err = repo.Tags(ctx, "", func(tags []string) error {
		for _, t := range tags {
			if match != nil && !match.MatchString(t) {
				continue
			}
			v, err := parseVersion(t)
			if err != nil {
				continue
			}
			if constraint.Check(v) {
				matching = append(matching, v)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(matching) == 0 {
		return "", &notFoundError{msg: fmt.Sprintf("no match found for semver: %s", exp)}
	}
	sort.Sort(sort.Reverse(semver.Collection(matching)))
	return matching[0].Original(), nil
}

// parseVersion accepts what Flux's version.ParseVersion accepts.
func parseVersion(tag string) (*semver.Version, error) {
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v")); err != nil {
		return nil, err
	}
	return semver.NewVersion(tag)
}

// chartTag resolves a HelmChart's version as source-controller's
// OCIChartRepository does (getChartVersion), and returns the tag it pushes
// and pulls, "+" written "_" as helm push does. Flux verifies the chart
// through go-containerregistry's reference of "<repository>:<version>",
// with the "+" kept, which refuses build metadata: such a version fails
// verification in Flux, and here with the same error.
func chartTag(ctx context.Context, repo *remote.Repository, repoName name.Repository, ver string) (string, error) {
	if _, err := fluxVersion(ver); err != nil {
		if ver, err = chartVersionByConstraint(ctx, repo, ver); err != nil {
			return "", err
		}
	}
	if _, err := name.ParseReference(repoName.Name() + ":" + ver); err != nil {
		return "", &resolveError{fmt.Errorf("invalid chart reference: %w", err)}
	}
	return strings.ReplaceAll(ver, "+", "_"), nil
}

// chartVersionByConstraint picks, among the repository's tags that are
// strict SemVer once "_" is read as "+" (Helm's registry client), the one
// equal to ver, else the highest satisfying ver as a constraint ("" or "*":
// the highest stable version).
func chartVersionByConstraint(ctx context.Context, repo *remote.Repository, ver string) (string, error) {
	var versions []string
	err := repo.Tags(ctx, "", func(tags []string) error {
		for _, t := range tags {
			v := strings.ReplaceAll(t, "_", "+")
			if _, err := semver.StrictNewVersion(v); err == nil {
				versions = append(versions, v)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(versions) == 0 {
		return "", &notFoundError{msg: "unable to locate any tags in provided repository"}
	}
	if ver != "" {
		for _, v := range versions {
			if v == ver {
				return v, nil
			}
		}
	}
	exp := ver
	if exp == "" {
		exp = "*"
	}
	constraint, err := semver.NewConstraint(exp)
	if err != nil {
		return "", &resolveError{fmt.Errorf("invalid chart version constraint '%s': %w", ver, err)}
	}
	var matching []*semver.Version
	for _, v := range versions {
		sv, err := fluxVersion(v)
		if err == nil && constraint.Check(sv) {
			matching = append(matching, sv)
		}
	}
	if len(matching) == 0 {
		return "", &notFoundError{msg: fmt.Sprintf("could not locate a version matching provided version string %s", ver)}
	}
	sort.Sort(sort.Reverse(semver.Collection(matching)))
	return matching[0].Original(), nil
}

// fluxVersion is fluxcd/pkg/version.ParseVersion: three dot-separated
// parts, then Masterminds' (lenient) parsing.
func fluxVersion(v string) (*semver.Version, error) {
	if len(strings.SplitN(v, ".", 3)) != 3 {
		return nil, semver.ErrInvalidSemVer
	}
	return semver.NewVersion(v)
}
