package verificationpolicy

import (
	"fmt"
	"strings"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// maxIssues bounds status lists so a policy over thousands of namespaces
// keeps a small status.
const maxIssues = 20

// syncReport aggregates the per-namespace outcomes of one sync.
type syncReport struct {
	counts                    v1alpha1.NamespaceCounts
	issues                    []v1alpha1.NamespaceIssue
	outcomes                  []targets.Outcome
	wrote, conflicted, failed int
	missing                   int
}

func summarizeOutcomes(outcomes []targets.Outcome, sel targets.Selection) syncReport {
	rep := syncReport{outcomes: outcomes, missing: len(sel.Missing)}
	for _, o := range outcomes {
		if o.Wrote {
			rep.wrote++
		}
		switch o.State {
		case targets.Synced:
			rep.counts.Synced++
		case targets.Conflicted:
			rep.conflicted++
			rep.addIssue(o.Namespace, o.Reason, o.Message)
		case targets.Failed:
			rep.failed++
			rep.addIssue(o.Namespace, o.Reason, o.Message)
		}
	}
	for _, ns := range sel.Missing {
		rep.addIssue(ns, v1alpha1.ReasonNamespaceNotFound, "namespace is listed in target.namespaces but does not exist; it gets the Secret when it is created")
	}
	for _, ns := range sel.Terminating {
		rep.addIssue(ns, v1alpha1.ReasonTerminating, "namespace is terminating; it is skipped")
	}
	rep.counts.Targeted = int32(len(outcomes))
	rep.counts.Conflicted = int32(rep.conflicted)
	rep.counts.Failed = int32(rep.failed)
	rep.counts.Summary = fmt.Sprintf("%d/%d", rep.counts.Synced, rep.counts.Targeted)
	return rep
}

// addIssue keeps the first maxIssues issues; outcomes arrive sorted, so the
// list is stable between reconciles and does not cause status churn.
func (r *syncReport) addIssue(ns, reason, msg string) {
	if len(r.issues) < maxIssues {
		r.issues = append(r.issues, v1alpha1.NamespaceIssue{Namespace: ns, Reason: reason, Message: msg})
	}
}

func (r *syncReport) message() string {
	msg := fmt.Sprintf("%d/%d namespaces synced", r.counts.Synced, r.counts.Targeted)
	var parts []string
	if r.conflicted > 0 {
		parts = append(parts, fmt.Sprintf("%d conflicted", r.conflicted))
	}
	if r.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", r.failed))
	}
	if r.missing > 0 {
		parts = append(parts, fmt.Sprintf("%d listed namespaces missing", r.missing))
	}
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, ", ") + "; see status.namespaceIssues)"
	}
	return msg
}

// listNamespaces names up to five namespaces in state, for event messages.
func (r *syncReport) listNamespaces(state targets.State) string {
	var names []string
	for _, o := range r.outcomes {
		if o.State == state {
			names = append(names, o.Namespace)
		}
	}
	return text.Join(names, 5, ", ", "")
}
