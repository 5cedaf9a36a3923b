package commands

import (
	"github.com/spf13/cobra"

	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/policydiff"
)

func newDiff(e *env) *cobra.Command {
	var in policyInput
	cmd := &cobra.Command{
		Use:   "diff -f POLICY.yaml [--source-dir DIR]",
		Short: "Show what applying a policy would change in the cluster",
		Long: `diff renders the policy from the files as the operator would, with its
sources read from the files first and then from the cluster: Secrets and
ConfigMaps from its trust namespace, ClusterTrustBundles at the version the
cluster serves (v1, else v1beta1; neither is the operator's
ClusterTrustBundleAPINotServed). It compares the result with the cluster:
the trust digest before and after, the certificates added and removed
(subject, expiry), and the namespaces that would gain or lose the Secret.
Nothing is written.

` + exitCodesHelp,
		Example: `  kubectl vpol diff -f policy.yaml
  kubectl vpol diff -f policy.yaml --source-dir deploy/trust/sources/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, p, err := in.load(e, e.err)
			if err != nil {
				return err
			}
			c, err := e.newClient()
			if err != nil {
				return usageError("%v", err)
			}
			bundles, err := clusterTrustBundles(set, p, c)
			if err != nil {
				return err
			}
			d, err := policydiff.Compute(cmd.Context(), c, policydiff.Input{
				Policy: p, Sources: set.Reader(c), ClusterTrustBundles: bundles,
				TrustNamespace: in.trustNamespace, SecretNames: in.secretNames, Now: e.now,
			})
			if err != nil {
				return usageError("%v", err)
			}
			if err := d.Print(e.out); err != nil {
				return err
			}
			if rej := d.Outcome.Rejection; rej != nil {
				printDiagnostics(e.err, nil, rej)
				return &exitError{code: ExitError, silent: true}
			}
			printDiagnostics(e.err, d.Outcome.Rendered.Warnings, nil)
			if d.Changed() {
				return failed()
			}
			return nil
		},
	}
	in.addFlags(cmd)
	return cmd
}
