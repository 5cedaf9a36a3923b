package commands

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/kube"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/manifests"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/preview"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/printer"
	"github.com/flux-notation/verification-operator/controllers/sources"
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
	secretNames       []string
}

func (in *policyInput) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVarP(&in.files, "filename", "f", nil,
		"a file or directory (its .yaml, .yml and .json files) holding the VerificationPolicy, and optionally its source Secrets, ConfigMaps and ClusterTrustBundles; - is stdin; repeatable")
	f.StringSliceVar(&in.sourceDirs, "source-dir", nil,
		"a file or directory of Secret, ConfigMap and ClusterTrustBundle manifests the policy's secretRef, configMapRef and clusterTrustBundle sources are read from; repeatable")
	f.StringVar(&in.policy, "policy", "", "the VerificationPolicy to use when the files hold several")
	f.StringVar(&in.trustNamespace, "trust-namespace", defaultTrustNamespace,
		"the operator's --trust-namespace: sources are read from Secrets and ConfigMaps in this namespace only")
	f.StringSliceVar(&in.secretNames, "target-secret-names", []string{v1alpha1.DefaultSecretName},
		"the operator's --target-secret-names: the Secret names it may write; a policy's target.secretName must be one of them")
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

// clusterTrustBundles is where the policy's clusterTrustBundle sources are
// read from: the files, and with a cluster client c the cluster too, at the
// version the manager's discovery finds served there. Discovery only runs
// for a policy that has such a source.
func clusterTrustBundles(set *manifests.Set, p *v1alpha1.VerificationPolicy, c client.Client) (*sources.ClusterTrustBundles, error) {
	if c == nil || !sources.UsesClusterTrustBundles(p.Spec.Certificates) {
		return set.ClusterTrustBundles(nil, nil), nil
	}
	apis, err := kube.DiscoverClusterTrustBundles(c.RESTMapper())
	if err != nil {
		return nil, usageError("%v", err)
	}
	return set.ClusterTrustBundles(c, apis), nil
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
			fmt.Fprintln(w, "The policy would wait (SecretsSynced=False): it syncs by itself once what the message names is created or fixed; the policy need not change.")
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
