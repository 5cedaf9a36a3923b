package main

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// artifactTag is the tag every team's artifact is pushed under, and
// chartVersion the version of chartTeam's chart.
const (
	artifactTag  = "v1"
	chartVersion = "1.0.0"
)

// artifact is what one team ships: its repository and how it is signed.
type artifact struct {
	team   string
	signer *certs.Cert // nil: unsigned
	root   *certs.Cert
	about  string // for the progress line
}

// artifacts is the demo's cast: team-a signs with the trusted G1 key,
// team-b already signs with the key of G2, the successor CA that is not
// trusted yet, team-c does not sign at all, and team-d ships a Helm chart
// signed under G1.
func (d *demo) artifacts() []artifact {
	return []artifact{
		{team: teams[0], signer: d.signerG1, root: d.caG1, about: "signed under G1"},
		{team: teams[1], signer: d.signerG2, root: d.caG2, about: "signed under G2, not trusted yet"},
		{team: teams[2], about: "unsigned"},
		{team: chartTeam, signer: d.signerG1, root: d.caG1, about: "a Helm chart (helm push), signed under G1"},
	}
}

// startRegistry runs a distribution v3 registry inside this process, with
// in-memory storage, on 127.0.0.1 over plain HTTP, at an address Flux's
// chart verification errors cannot be misread for (it serves the demo's
// chart too: notation.NewChartRegistry).
func (d *demo) startRegistry(context.Context) error {
	r, err := notation.NewChartRegistry(registry.Options{})
	if err != nil {
		return err
	}
	d.registry = r
	d.onCleanUp(r.Close)
	d.printf("    %s\n", r.URL())
	return nil
}

// pushArtifacts pushes one small Flux artifact per team (a Helm chart for
// chartTeam) and signs it the way `notation sign` would, with notation-go.
func (d *demo) pushArtifacts(ctx context.Context) error {
	remote := notation.For(d.registry)
	for _, a := range d.artifacts() {
		repo := d.repository(a.team)
		var desc ocispec.Descriptor
		var err error
		if a.team == chartTeam {
			repo = d.chartRepository() + "/" + ociRepositoryName
			desc, err = notation.PushChart(ctx, remote, d.chartRepository(), ociRepositoryName, chartVersion)
		} else {
			var content []byte
			if content, err = notation.FluxContent(a.team+"/deploy.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n")); err != nil {
				return err
			}
			if desc, err = notation.PushArtifact(ctx, remote, repo, "", content); err == nil {
				err = notation.Tag(ctx, remote, repo, desc, artifactTag)
			}
		}
		if err != nil {
			return fmt.Errorf("pushing %s: %w", repo, err)
		}
		switch {
		case a.signer != nil && a.team == chartTeam:
			// A signature whose digest Flux would take for an
			// authentication error is made again (notation.SignChart).
			err = notation.SignChart(ctx, remote, repo, desc, a.signer, a.root)
		case a.signer != nil:
			_, err = notation.Sign(ctx, remote, repo, desc, a.signer, a.root)
		}
		if err != nil {
			return fmt.Errorf("signing %s: %w", repo, err)
		}
		tag := artifactTag
		if a.team == chartTeam {
			tag = chartVersion
		}
		d.printf("    %s:%s  %s\n", repo, tag, a.about)
	}
	return nil
}

// createOCIRepositories creates, in each team namespace, the OCIRepository
// a team writes (in chartTeam, a HelmChart: createHelmChart), verifying
// with the Secret the policy wrote there. Flux's source-controller verifies
// it and so does the operator; the table shows both verdicts: team-a and
// team-d (both signed under G1) verify, team-b (signed under G2, not
// trusted yet) and team-c (unsigned) do not.
func (d *demo) createOCIRepositories(ctx context.Context) error {
	for _, team := range teams {
		if team == chartTeam {
			if err := d.createHelmChart(ctx); err != nil {
				return err
			}
			continue
		}
		o := cluster.NotationOCIRepository(team, ociRepositoryName, d.repository(team), artifactTag, v1alpha1.DefaultSecretName)
		if err := d.k8s.Create(ctx, o); err != nil {
			return err
		}
	}
	snap, err := d.table.follow(ctx, d, goal{artifacts: true, verified: []string{teams[0], chartTeam}})
	d.before = snap
	return err
}

// createHelmChart creates, in chartTeam, the OCI HelmRepository and the
// HelmChart a team writes (helm-controller writes the same HelmChart for a
// HelmRelease with spec.chart.spec.verify).
func (d *demo) createHelmChart(ctx context.Context) error {
	repo := helmcharts.NewRepository()
	repo.SetNamespace(chartTeam)
	repo.SetName("charts")
	repo.Object["spec"] = map[string]any{"type": "oci", "url": "oci://" + d.chartRepository(), "insecure": true, "interval": "10m"}
	chart := helmcharts.New()
	chart.SetNamespace(chartTeam)
	chart.SetName(ociRepositoryName)
	chart.Object["spec"] = map[string]any{
		"chart": ociRepositoryName, "version": chartVersion, "interval": "10m",
		"sourceRef": map[string]any{"kind": "HelmRepository", "name": "charts"},
		"verify":    map[string]any{"provider": "notation", "secretRef": map[string]any{"name": v1alpha1.DefaultSecretName}},
	}
	for _, o := range []client.Object{repo, chart} {
		if err := d.k8s.Create(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// chartRepository is where chartTeam's chart is pushed: an OCI
// HelmRepository's URL without the scheme.
func (d *demo) chartRepository() string {
	return d.registry.Reference(chartTeam + "/charts")
}

// repository is the team's artifact repository, "127.0.0.1:<port>/<team>/app".
func (d *demo) repository(team string) string {
	return d.registry.Reference(team + "/app")
}
