package commands

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/manifests"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/preview"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/printer"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// defaultTrustNamespace is the namespace config/default installs the
// operator in, whose --trust-namespace defaults to its own.
const defaultTrustNamespace = "verification-operator-system"

// policyInput is the policy a command reads from files, with the sources
// next to it.
type policyInput struct {
	files, sourceDirs []string
	policy            string
	trustNamespace    string
}

func (in *policyInput) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVarP(&in.files, "filename", "f", nil,
		"a file or directory (its .yaml, .yml and .json files) holding the VerificationPolicy, and optionally its source Secrets and ConfigMaps; - is stdin; repeatable")
	f.StringSliceVar(&in.sourceDirs, "source-dir", nil,
		"a file or directory of Secret and ConfigMap manifests the policy's secretRef and configMapRef sources are read from; repeatable")
	f.StringVar(&in.policy, "policy", "", "the VerificationPolicy to use when the files hold several")
	f.StringVar(&in.trustNamespace, "trust-namespace", defaultTrustNamespace,
		"the operator's --trust-namespace: sources are read from Secrets and ConfigMaps in this namespace only")
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	_ = cmd.MarkFlagDirname("source-dir")
}

// load reads the files and picks the policy; notes about ignored
// documents and sources outside the trust namespace go to w.
func (in *policyInput) load(e *env, w io.Writer) (*manifests.Set, *v1alpha1.VerificationPolicy, error) {
	set, err := manifests.Read(append(append([]string{}, in.files...), in.sourceDirs...), e.in)
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	p, err := set.Policy(in.policy)
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	for _, n := range append(set.Notes, set.OutsideNamespace(in.trustNamespace)...) {
		fmt.Fprintln(w, "Note:", n)
	}
	return set, p, nil
}

// printDiagnostics prints warnings as the operator's Warning events say
// them (type, reason, message) and a rejection as the policy's
// SecretsSynced condition would say it.
func printDiagnostics(w io.Writer, warnings []trustconfig.Warning, rej *preview.Rejection) {
	var rows [][]string
	for _, wn := range warnings {
		rows = append(rows, []string{"Warning", wn.Reason, wn.Message})
	}
	if rej != nil {
		rows = append(rows, []string{"Rejected", rej.Reason, rej.Message})
	}
	if len(rows) > 0 {
		_ = printer.Table(w, nil, rows)
	}
	if rej != nil {
		if rej.Stalled {
			fmt.Fprintln(w, "The policy would be Stalled (SecretsSynced=False): only a change to the policy fixes this.")
		} else {
			fmt.Fprintln(w, "The policy would wait (SecretsSynced=False): creating or fixing the source Secret or ConfigMap fixes this.")
		}
	}
}

// printSummary says what was rendered, for a person reading a CI log: the
// digests and one row per certificate (the Secret itself is base64).
func printSummary(w io.Writer, secretName string, r *trustconfig.Result) {
	fmt.Fprintf(w, "Rendered Secret %s: trust digest %s, Flux fingerprint %s\n", secretName, r.TrustDigest, r.FluxFingerprint)
	rows := make([][]string, 0, len(r.Certificates))
	for _, c := range r.Certificates {
		rows = append(rows, []string{c.Key, string(c.Type), c.Source, c.Subject, c.NotAfter.UTC().Format("2006-01-02")})
	}
	_ = printer.IndentedTable(w, "  ", []string{"KEY", "TYPE", "SOURCE", "SUBJECT", "NOT AFTER"}, rows)
}
