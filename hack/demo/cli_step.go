package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/flux-notation/verification-operator/test/cluster"
)

// showCLIStatus builds bin/kubectl-vpol (a no-op when it is up to date, as
// for the manager) and runs it as a user would, with the admin kubeconfig:
// the policy's whole story, in one screen, from the command line.
func (d *demo) showCLIStatus(ctx context.Context) error {
	binary, err := cluster.BuildCLI(ctx)
	if err != nil {
		return err
	}
	args := []string{"--kubeconfig", d.rel(d.kubeconfig), "status", policyName}
	d.printf("    $ %s %s\n", d.rel(binary), strings.Join(args, " "))
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	for line := range strings.SplitSeq(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			d.printf("\n")
			continue
		}
		d.printf("    %s\n", line)
	}
	if err != nil {
		return fmt.Errorf("%s status: %w", binary, err)
	}
	return nil
}
