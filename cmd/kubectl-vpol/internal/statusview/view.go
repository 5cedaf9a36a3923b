// Package statusview tells, in one screen, the story a VerificationPolicy's
// status tells across the cluster: its conditions and certificates; per
// namespace whether the Secret is synced or conflicted; per governed
// artifact the operator's verdict and Flux's, fresh or stale; and per stage
// of a staged rollout where it stands. It only reads: the policy, its
// generated Secrets, the namespaces and the governed artifacts.
//
// A View is a list of Sections, each a titled table. Artifact kinds are
// sections too (see artifactKinds), so a new kind the operator learns to
// govern is one more entry there and one more table on the screen.
package statusview

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/printer"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// Options say how much to show.
type Options struct {
	// Wide adds digests: of the trust configuration, of each namespace's
	// Secret, of each artifact revision, of each stage.
	Wide bool
}

// Section is one titled table of the screen.
type Section struct {
	Title string
	// Summary follows the title on its line.
	Summary string
	Header  []string
	Rows    [][]string
	// Notes are lines printed after the table.
	Notes []string
}

// View is everything shown for one policy.
type View struct {
	Policy   *v1alpha1.VerificationPolicy
	Sections []Section
	wide     bool
}

// policyEnv is what the sections are computed from, read once.
type policyEnv struct {
	c          client.Reader
	policy     *v1alpha1.VerificationPolicy
	selection  targets.Selection
	namespaces []corev1.Namespace
	targeted   map[string]bool
	// secrets are the policy's Secrets for Flux, by namespace.
	secrets map[string]*corev1.Secret
	wide    bool
	// served says which kinds' APIs the cluster serves.
	served func(checker.Kind) bool
}

// Load reads the policy called name and what its status is about.
func Load(ctx context.Context, c client.Reader, name string, o Options) (*View, error) {
	p := &v1alpha1.VerificationPolicy{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
		return nil, fmt.Errorf("reading VerificationPolicy %s: %w", name, err)
	}
	return load(ctx, c, p, o)
}

// LoadAll is Load for every policy, by name.
func LoadAll(ctx context.Context, c client.Reader, o Options) ([]*View, error) {
	var list v1alpha1.VerificationPolicyList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing VerificationPolicies: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	views := make([]*View, 0, len(list.Items))
	for i := range list.Items {
		v, err := load(ctx, c, &list.Items[i], o)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

func load(ctx context.Context, c client.Reader, p *v1alpha1.VerificationPolicy, o Options) (*View, error) {
	pe := &policyEnv{c: c, policy: p, wide: o.Wide, served: checker.ServedIn(ctx, c)}
	if err := pe.read(ctx); err != nil {
		return nil, err
	}
	v := &View{Policy: p, wide: o.Wide}
	v.Sections = append(v.Sections, conditionsSection(p), certificatesSection(p, o.Wide))
	ns, err := namespacesSection(pe)
	if err != nil {
		return nil, err
	}
	v.Sections = append(v.Sections, ns)
	for _, k := range artifactKinds {
		s, err := k.section(ctx, pe)
		if err != nil {
			return nil, err
		}
		v.Sections = append(v.Sections, s)
	}
	if r := rolloutSection(p, o.Wide); r != nil {
		v.Sections = append(v.Sections, *r)
	}
	return v, nil
}

func (pe *policyEnv) read(ctx context.Context) error {
	sel, namespaces, err := targets.SelectNamespaces(ctx, pe.c, pe.policy.Spec.Target)
	if err != nil {
		return err
	}
	pe.selection, pe.namespaces = sel, namespaces
	pe.targeted = make(map[string]bool, len(sel.Targeted))
	for _, n := range sel.Targeted {
		pe.targeted[n] = true
	}
	secrets, err := targets.ListGenerated(ctx, pe.c, pe.policy.Name)
	if err != nil {
		return err
	}
	pe.secrets = make(map[string]*corev1.Secret, len(secrets))
	for i := range secrets {
		s := &secrets[i]
		if !targets.IsBookkeeping(s) && s.Name == pe.policy.SecretName() {
			pe.secrets[s.Namespace] = s
		}
	}
	return nil
}

// Print writes the view.
func (v *View) Print(w io.Writer) error {
	p := v.Policy
	ready := apimeta.FindStatusCondition(p.Status.Conditions, meta.ReadyCondition)
	head := fmt.Sprintf("VerificationPolicy %s", p.Name)
	if ready != nil {
		head += fmt.Sprintf(": Ready=%s (%s)", ready.Status, ready.Reason)
	}
	fmt.Fprintln(w, head)
	fmt.Fprintf(w, "generation %d, observed %d; Secret %s\n", p.Generation, p.Status.ObservedGeneration, p.SecretName())
	if v.wide {
		fmt.Fprintf(w, "trust digest %s, Flux fingerprint %s\n", orDash(p.Status.TrustDigest), orDash(p.Status.FluxFingerprint))
	}
	for _, s := range v.Sections {
		fmt.Fprintln(w)
		line := s.Title
		if s.Summary != "" {
			line += ": " + s.Summary
		}
		fmt.Fprintln(w, line)
		if len(s.Rows) > 0 {
			if err := printer.IndentedTable(w, "  ", s.Header, s.Rows); err != nil {
				return err
			}
		}
		for _, n := range s.Notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	return nil
}

func conditionsSection(p *v1alpha1.VerificationPolicy) Section {
	s := Section{Title: "Conditions", Header: []string{"TYPE", "STATUS", "REASON", "MESSAGE"}}
	conds := append([]metav1.Condition(nil), p.Status.Conditions...)
	// Ready first, then the rest in the order the API server keeps them.
	sort.SliceStable(conds, func(i, j int) bool {
		return conds[i].Type == meta.ReadyCondition && conds[j].Type != meta.ReadyCondition
	})
	for _, c := range conds {
		s.Rows = append(s.Rows, []string{c.Type, string(c.Status), c.Reason, c.Message})
	}
	if len(conds) == 0 {
		s.Summary = "none yet (the operator has not reconciled the policy)"
	}
	return s
}

// certificatesSection lists the rendered certificates with their source,
// as render's summary does: which source (and, for a clusterTrustBundle
// source, which bundle) brought a certificate in is what tells a platform
// engineer what to change to drop it.
func certificatesSection(p *v1alpha1.VerificationPolicy, wide bool) Section {
	s := Section{Title: "Certificates", Header: []string{"KEY", "TYPE", "SOURCE", "SUBJECT", "NOT AFTER"}}
	if wide {
		s.Header = append(s.Header, "SHA256")
	}
	for _, c := range p.Status.Certificates {
		row := []string{c.Key, string(c.Type), orDash(c.Source), c.Subject, c.NotAfter.UTC().Format("2006-01-02")}
		if wide {
			row = append(row, c.SHA256)
		}
		s.Rows = append(s.Rows, row)
	}
	if len(s.Rows) == 0 {
		s.Summary = "none rendered yet"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// joinNonEmpty joins the non-empty parts.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
