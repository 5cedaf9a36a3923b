package main

import (
	"context"
	"fmt"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// artifactTag is the tag every team's artifact is pushed under.
const artifactTag = "v1"

// artifact is what one team ships: its repository and how it is signed.
type artifact struct {
	team   string
	signer *certs.Cert // nil: unsigned
	root   *certs.Cert
	about  string // for the progress line
}

// artifacts is the demo's cast: team-a signs with the trusted G1 key,
// team-b already signs with the key of G2, the successor CA that is not
// trusted yet, and team-c does not sign at all.
func (d *demo) artifacts() []artifact {
	return []artifact{
		{team: teams[0], signer: d.signerG1, root: d.caG1, about: "signed under G1"},
		{team: teams[1], signer: d.signerG2, root: d.caG2, about: "signed under G2, not trusted yet"},
		{team: teams[2], about: "unsigned"},
	}
}

// startRegistry runs a distribution v3 registry inside this process, with
// in-memory storage, on 127.0.0.1 over plain HTTP.
func (d *demo) startRegistry(context.Context) error {
	r, err := registry.New(registry.Options{})
	if err != nil {
		return err
	}
	d.registry = r
	d.onCleanUp(r.Close)
	d.printf("    %s\n", r.URL())
	return nil
}

// pushArtifacts pushes one small Flux artifact per team and signs it the way
// `notation sign` would, with notation-go.
func (d *demo) pushArtifacts(ctx context.Context) error {
	remote := notation.For(d.registry)
	for _, a := range d.artifacts() {
		repo := d.repository(a.team)
		content, err := notation.FluxContent(a.team+"/deploy.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n"))
		if err != nil {
			return err
		}
		desc, err := notation.PushArtifact(ctx, remote, repo, "", content)
		if err != nil {
			return fmt.Errorf("pushing %s: %w", repo, err)
		}
		if err := notation.Tag(ctx, remote, repo, desc, artifactTag); err != nil {
			return fmt.Errorf("tagging %s: %w", repo, err)
		}
		if a.signer != nil {
			if _, err := notation.Sign(ctx, remote, repo, desc, a.signer, a.root); err != nil {
				return fmt.Errorf("signing %s: %w", repo, err)
			}
		}
		d.printf("    %s:%s  %s\n", repo, artifactTag, a.about)
	}
	return nil
}

// createOCIRepositories creates, in each team namespace, the OCIRepository
// a team writes, verifying with the Secret the policy wrote there. Flux's
// source-controller verifies it and so does the operator; the table shows
// both verdicts: team-a (signed under G1) verifies, the others do not.
func (d *demo) createOCIRepositories(ctx context.Context) error {
	for _, team := range teams {
		o := cluster.NotationOCIRepository(team, ociRepositoryName, d.repository(team), artifactTag, v1alpha1.DefaultSecretName)
		if err := d.k8s.Create(ctx, o); err != nil {
			return err
		}
	}
	snap, err := d.table.follow(ctx, d, goal{artifacts: true, verified: teams[0]})
	d.before = snap
	return err
}

// repository is the team's artifact repository, "127.0.0.1:<port>/<team>/app".
func (d *demo) repository(team string) string {
	return d.registry.Reference(team + "/app")
}
