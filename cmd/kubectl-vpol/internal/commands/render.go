package commands

import (
	"github.com/spf13/cobra"

	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/preview"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/printer"
)

func newRender(e *env) *cobra.Command {
	var (
		in     policyInput
		output string
	)
	cmd := &cobra.Command{
		Use:   "render -f POLICY.yaml [--source-dir DIR]",
		Short: "Print the Secret the operator would write for a policy, offline",
		Long: `render resolves the policy's certificate sources from manifests in files
as the operator reads them in the cluster (secretRef and configMapRef sources
from Secrets and ConfigMaps in the trust namespace, clusterTrustBundle sources
from ClusterTrustBundles, certificates.k8s.io/v1 or v1beta1), renders the trust
configuration with the operator's renderer, and prints the exact Secret the
operator would write in each targeted namespace (-n sets its
metadata.namespace). A target.secretName the operator may not write
(--target-secret-names, as the manager's flag) is refused as the operator
refuses it.

Warnings are printed to stderr as the operator's Warning events say them; a
rejection with the reason and message of the policy's SecretsSynced
condition, and then nothing is printed on stdout. No cluster is contacted.

` + exitCodesHelp,
		Example: `  kubectl vpol render -f policy.yaml --source-dir deploy/trust/sources/
  kubectl vpol render -f deploy/trust/ -o json
  kubectl vpol render -f policy.yaml --target-secret-names notation-config,notation-cluster-roots`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != string(printer.YAML) && output != string(printer.JSON) {
				return usageError("--output %q: use yaml or json", output)
			}
			set, p, err := in.load(e, e.err)
			if err != nil {
				return err
			}
			ns, _, _ := e.kube.ToRawKubeConfigLoader().Namespace()
			if !cmd.Flags().Changed("namespace") {
				ns = ""
			}
			out, err := preview.Render(cmd.Context(), preview.Input{
				Policy: p, Sources: set.Reader(nil), ClusterTrustBundles: set.ClusterTrustBundles(nil, nil),
				TrustNamespace: in.trustNamespace, SecretNames: in.secretNames, Now: e.now, Namespace: ns,
			})
			if err != nil {
				return err
			}
			if out.Rejection != nil {
				printDiagnostics(e.err, nil, out.Rejection)
				return failed()
			}
			printDiagnostics(e.err, out.Rendered.Warnings, nil)
			printSummary(e.err, p.SecretName(), out.Rendered)
			return printer.Object(e.out, printer.Format(output), out.Secret)
		},
	}
	in.addFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
