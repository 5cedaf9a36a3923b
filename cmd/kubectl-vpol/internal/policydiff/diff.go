// Package policydiff says what applying a VerificationPolicy would change
// in a cluster: the trust digest before and after, the certificates added
// and removed, and the namespaces that would gain or lose the Secret. The
// "after" is computed by the operator's own code (preview for the Secret,
// targets.Select for the namespaces), the "before" is read from the
// policy's status and the Secrets in place.
package policydiff

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/preview"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/printer"
	"github.com/flux-notation/verification-operator/controllers/sources"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// Input is the policy to apply and where its sources come from.
type Input struct {
	Policy *v1alpha1.VerificationPolicy
	// Sources reads source Secrets and ConfigMaps: the files first, then
	// the cluster; ClusterTrustBundles likewise, at the version the
	// cluster serves.
	Sources             client.Reader
	ClusterTrustBundles *sources.ClusterTrustBundles
	TrustNamespace      string
	// SecretNames are the operator's --target-secret-names.
	SecretNames []string
	Now         time.Time
}

// Diff is what would change.
type Diff struct {
	Policy string
	// Exists: the policy is in the cluster today.
	Exists bool
	// Outcome is the rendering of the new spec; with a rejection nothing
	// would change (the last good Secrets stay) and the rest is empty.
	Outcome preview.Outcome

	DigestBefore, DigestAfter         string
	SecretNameBefore, SecretNameAfter string
	// Added and Removed certificates, by content (sha256), in key order.
	Added, Removed []v1alpha1.CertificateStatus
	// KeptCertificates counts the certificates in both.
	KeptCertificates int
	// Gained and Lost namespaces, sorted; Kept counts the rest.
	Gained, Lost []string
	Kept         int
	// Conflicted are gained namespaces where a Secret that is not the
	// operator's is in the way today: they would stay conflicted.
	Conflicted map[string]bool
}

// Compute reads the cluster through c and renders in.Policy.
func Compute(ctx context.Context, c client.Reader, in Input) (*Diff, error) {
	p := in.Policy
	d := &Diff{Policy: p.Name, SecretNameAfter: p.SecretName(), Conflicted: map[string]bool{}}
	current := &v1alpha1.VerificationPolicy{}
	switch err := c.Get(ctx, client.ObjectKey{Name: p.Name}, current); {
	case err == nil:
		d.Exists = true
		d.DigestBefore, d.SecretNameBefore = current.Status.TrustDigest, current.SecretName()
		// The owner reference of the Secrets names the object in place.
		p = p.DeepCopy()
		p.UID = current.UID
	case apierrors.IsNotFound(err):
	default:
		return nil, fmt.Errorf("reading VerificationPolicy %s: %w", p.Name, err)
	}

	out, err := preview.Render(ctx, preview.Input{Policy: p, Sources: in.Sources, ClusterTrustBundles: in.ClusterTrustBundles,
		TrustNamespace: in.TrustNamespace, SecretNames: in.SecretNames, Now: in.Now})
	if err != nil {
		return nil, err
	}
	d.Outcome = out
	if out.Rejection != nil {
		return d, nil
	}
	sel, _, err := targets.SelectNamespaces(ctx, c, p.Spec.Target)
	if err != nil {
		if rej, ok := preview.RejectionOf(err); ok {
			d.Outcome = preview.Outcome{Rejection: rej}
			return d, nil
		}
		return nil, err
	}
	d.DigestAfter = out.Rendered.TrustDigest
	d.compareCertificates(current.Status.Certificates, out.Rendered.Certificates)

	before := map[string]bool{}
	if d.Exists {
		secrets, err := targets.ListGenerated(ctx, c, p.Name)
		if err != nil {
			return nil, err
		}
		for i := range secrets {
			if !targets.IsBookkeeping(&secrets[i]) {
				before[secrets[i].Namespace] = true
			}
		}
		for _, is := range current.Status.NamespaceIssues {
			if is.Reason == v1alpha1.ReasonSecretConflict {
				d.Conflicted[is.Namespace] = true
			}
		}
	}
	after := map[string]bool{}
	for _, ns := range sel.Targeted {
		after[ns] = true
		if before[ns] {
			d.Kept++
		} else {
			d.Gained = append(d.Gained, ns)
		}
	}
	for ns := range before {
		if !after[ns] {
			d.Lost = append(d.Lost, ns)
		}
	}
	sort.Strings(d.Lost)
	return d, nil
}

func (d *Diff) compareCertificates(before, after []v1alpha1.CertificateStatus) {
	in := func(list []v1alpha1.CertificateStatus, sum string) bool {
		for _, c := range list {
			if c.SHA256 == sum {
				return true
			}
		}
		return false
	}
	for _, c := range after {
		if in(before, c.SHA256) {
			d.KeptCertificates++
		} else {
			d.Added = append(d.Added, c)
		}
	}
	for _, c := range before {
		if !in(after, c.SHA256) {
			d.Removed = append(d.Removed, c)
		}
	}
}

// Changed reports whether applying the policy would change anything the
// diff shows.
func (d *Diff) Changed() bool {
	if d.Outcome.Rejection != nil {
		return false
	}
	return !d.Exists || d.DigestBefore != d.DigestAfter || d.SecretNameBefore != d.SecretNameAfter ||
		len(d.Added)+len(d.Removed)+len(d.Gained)+len(d.Lost) > 0
}

// Print writes the diff for a person.
func (d *Diff) Print(w io.Writer) error {
	state := "in the cluster"
	if !d.Exists {
		state = "new: not in the cluster yet"
	}
	fmt.Fprintf(w, "VerificationPolicy %s (%s)\n", d.Policy, state)
	if d.Outcome.Rejection != nil {
		fmt.Fprintln(w, "the operator would reject the new spec: nothing would change, the Secrets of the last good configuration stay")
		return nil
	}
	fmt.Fprintf(w, "trust digest: %s\n", change(d.DigestBefore, d.DigestAfter))
	if d.Exists && d.SecretNameBefore != d.SecretNameAfter {
		fmt.Fprintf(w, "Secret name: %s (every namespace's Secret is replaced)\n", change(d.SecretNameBefore, d.SecretNameAfter))
	}

	fmt.Fprintf(w, "\ncertificates: %d added, %d removed, %d unchanged\n", len(d.Added), len(d.Removed), d.KeptCertificates)
	var rows [][]string
	for _, c := range d.Added {
		rows = append(rows, []string{"+", c.Key, c.Subject, "expires " + c.NotAfter.UTC().Format("2006-01-02")})
	}
	for _, c := range d.Removed {
		rows = append(rows, []string{"-", c.Key, c.Subject, "expires " + c.NotAfter.UTC().Format("2006-01-02")})
	}
	if err := printer.IndentedTable(w, "  ", nil, rows); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nnamespaces: %d gain the Secret, %d lose it, %d keep it\n", len(d.Gained), len(d.Lost), d.Kept)
	rows = nil
	for _, ns := range d.Gained {
		row := []string{"+", ns}
		if d.Conflicted[ns] {
			row = append(row, "conflicted today: a Secret of that name is not the operator's and stays untouched")
		}
		rows = append(rows, row)
	}
	for _, ns := range d.Lost {
		rows = append(rows, []string{"-", ns})
	}
	return printer.IndentedTable(w, "  ", nil, rows)
}

func change(before, after string) string {
	switch {
	case before == "":
		return "(none) -> " + after
	case before == after:
		return after + " (unchanged)"
	}
	return before + " -> " + after
}
