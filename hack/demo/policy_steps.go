package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
)

// createCAs makes the CA platform engineers distribute today, its
// successor, and the code-signing certificate each issues to the release
// pipeline. Both certificates have the same subject, the identity the
// trust policy names, so only the trusted root decides.
func (d *demo) createCAs(context.Context) error {
	d.caG1 = certs.NewCA("Demo Release Root G1")
	d.signerG1 = certs.NewCodeSigner(signerName, d.caG1)
	d.caG2 = certs.NewCA("Demo Release Root G2")
	d.signerG2 = certs.NewCodeSigner(signerName, d.caG2)
	d.printf("    each issues a code-signing certificate for %q\n", signerName)
	return nil
}

// createPolicy creates the policy, trusting G1 for the team repositories,
// and shows as it happens the Secrets appearing in the labelled namespaces
// (there are no OCIRepositories or HelmCharts yet, so no verdicts: those
// arrive in createOCIRepositories).
func (d *demo) createPolicy(ctx context.Context) error {
	var scopes []string
	for _, team := range teams {
		if team == chartTeam {
			scopes = append(scopes, d.chartRepository()+"/"+ociRepositoryName)
			continue
		}
		scopes = append(scopes, d.repository(team))
	}
	p := &v1alpha1.VerificationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: policyName},
		Spec: v1alpha1.VerificationPolicySpec{
			TrustPolicies: []v1alpha1.TrustPolicyStatement{{
				Name:                  "demo-releases",
				RegistryScopes:        scopes,
				SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
				TrustedIdentities:     []string{"x509.subject: " + d.signerG1.Cert.Subject.String()},
			}},
			Certificates: []v1alpha1.CertificateSource{{Name: "demo-root", Inline: string(d.caG1.PEM())}},
			Target: v1alpha1.Target{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{verifyLabel: "true"}},
			},
		},
	}
	if err := d.k8s.Create(ctx, p); err != nil {
		return err
	}
	_, err := d.table.follow(ctx, d, goal{})
	return err
}

// rotateCA replaces G1 with G2 in the policy, as a platform engineer would
// before G1 expires. The new trust configuration reaches every namespace,
// and the operator re-verifies at once: team-b, already signing under G2,
// now verifies, and team-a and team-d's chart, still signed under G1, no
// longer do; team-c stays unsigned.
func (d *demo) rotateCA(ctx context.Context) error {
	start := time.Now()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &v1alpha1.VerificationPolicy{}
		if err := d.k8s.Get(ctx, client.ObjectKey{Name: policyName}, p); err != nil {
			return err
		}
		p.Spec.Certificates[0].Inline = string(d.caG2.PEM())
		return d.k8s.Update(ctx, p)
	})
	if err != nil {
		return err
	}
	snap, err := d.table.follow(ctx, d, goal{replaces: d.before.digest, artifacts: true, verified: []string{teams[1]}})
	d.after, d.rotation = snap, time.Since(start)
	return err
}

// goal is what a step waits for: the policy handled its current spec, one
// trust digest (not the one being replaced) is in every team namespace and
// none in sandbox, and, once there are OCIRepositories, every team's has a
// verdict against it, with only the named team's verified, and Flux has
// verified each (after the operator's reconcile request, if it made one).
// The verdicts are part of the goal because they are what tells the old
// trust configuration from the new.
type goal struct {
	replaces  string
	artifacts bool
	verified  []string
}

func (g goal) reached(s snapshot) bool {
	if !s.handled || s.digest == "" || s.digest == g.replaces || s.secrets[sandbox] != "" {
		return false
	}
	for _, team := range teams {
		if s.secrets[team] != s.digest {
			return false
		}
	}
	if !g.artifacts {
		return true
	}
	if !s.artifacts || int(s.counts.Matched) != len(teams) || s.counts.Pending > 0 ||
		s.counts.FluxStale > 0 || s.counts.ForcesInFlight > 0 {
		// The policy's own account of Flux must have caught up too.
		return false
	}
	for _, team := range teams {
		if (s.verdict(team) == "Verified") != slices.Contains(g.verified, team) || !s.flux[team].settled {
			return false
		}
	}
	return true
}

func (g goal) String() string {
	if !g.artifacts {
		return fmt.Sprintf("one trust digest in %s", strings.Join(teams, ", "))
	}
	return fmt.Sprintf("one trust digest in %s, with only %s verified, and Flux's verdicts", strings.Join(teams, ", "), strings.Join(g.verified, " and "))
}

// summary says what the demo showed: where the Secret is, what the
// rotation changed and how long it took, and as whom the manager ran. Its
// "done in" covers every step up to here; the kubectl vpol status step,
// the last one, follows it.
func (d *demo) summary(context.Context) error {
	d.printf("    %d/%d labelled namespaces hold Secret %s; %s (not labelled) has none\n",
		len(teams), len(teams), v1alpha1.DefaultSecretName, sandbox)
	d.printf("    rotating G1 to G2 moved every namespace from %s to %s and changed the verdicts, in %s:\n",
		short(d.before.digest), short(d.after.digest), d.rotation.Round(10*time.Millisecond))
	for _, team := range teams {
		d.printf("      %s/%s (%s): the operator: %s; Flux: %s\n", team, ociRepositoryName, kindOf(team),
			change(d.before.verdict(team), d.after.verdict(team)), change(d.before.flux[team].String(), d.after.flux[team].String()))
	}
	d.printf("    the manager ran as %s, with only the RBAC config/default ships\n", d.install.User())
	d.printf("    done in %s; logs in %s\n", time.Since(d.start).Round(100*time.Millisecond), d.rel(d.dir))
	return nil
}

// change says "was -> is", or "still is".
func change(was, is string) string {
	if was == is {
		return "still " + is
	}
	return was + " -> " + is
}

// short abbreviates a digest for display: "sha256:" and 8 hex digits.
func short(digest string) string {
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok || len(hex) < 8 {
		return digest
	}
	return algo + ":" + hex[:8]
}
