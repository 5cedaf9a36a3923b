package commands

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/printer"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/statusview"
)

func newStatus(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status [POLICY]",
		Short: "Show what a policy's status says across the cluster, in one screen",
		Long: `status reads a VerificationPolicy (every one without POLICY), its Secrets, the
targeted namespaces and the governed artifacts from the cluster, and shows:
the conditions; the certificates; per namespace whether the Secret is Synced,
Outdated, Missing, Conflicted, Failed or Stale (no longer targeted, to be
pruned), with its rollout stage; per governed artifact the operator's verdict
and Flux's SourceVerified with fresh/stale (fresh: Flux verified with the
trust configuration in place; stale: its verdict predates it); and the stages
of a staged rollout. -o wide adds digests; -o yaml and -o json print the
policy's status as stored.`,
		Example: `  kubectl vpol status demo-releases
  kubectl vpol status -o wide`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return e.policyNames(cmd), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "", "wide", string(printer.YAML), string(printer.JSON):
			default:
				return usageError("--output %q: use wide, yaml or json", output)
			}
			c, err := e.newClient()
			if err != nil {
				return usageError("%v", err)
			}
			o := statusview.Options{Wide: output == "wide"}
			var views []*statusview.View
			if len(args) == 1 {
				v, err := statusview.Load(cmd.Context(), c, args[0], o)
				if err != nil {
					return usageError("%v", err)
				}
				views = append(views, v)
			} else if views, err = statusview.LoadAll(cmd.Context(), c, o); err != nil {
				return usageError("%v", err)
			}
			if len(views) == 0 {
				fmt.Fprintln(e.err, "No VerificationPolicies found.")
				return nil
			}
			for i, v := range views {
				if output == string(printer.YAML) || output == string(printer.JSON) {
					if err := printer.Object(e.out, printer.Format(output), map[string]any{"name": v.Policy.Name, "status": v.Policy.Status}); err != nil {
						return err
					}
					continue
				}
				if i > 0 {
					fmt.Fprintln(e.out)
				}
				if err := v.Print(e.out); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: wide adds digests; yaml or json print the status")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"wide", "yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// policyNames lists the cluster's policies for shell completion; errors
// mean no suggestions.
func (e *env) policyNames(cmd *cobra.Command) []string {
	c, err := e.newClient()
	if err != nil {
		return nil
	}
	var list v1alpha1.VerificationPolicyList
	if err := c.List(cmd.Context(), &list); err != nil {
		return nil
	}
	names := make([]string, 0, len(list.Items))
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}
