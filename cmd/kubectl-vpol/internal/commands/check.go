package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/artifactcheck"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/preview"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/printer"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

type checkOptions struct {
	in           policyInput
	artifacts    []string
	fromCluster  bool
	dockerConfig string
	insecure     bool
	caFile       string
	timeout      time.Duration
	output       string
}

func newCheck(e *env) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check -f POLICY.yaml --artifact oci://REGISTRY/REPOSITORY:TAG|@DIGEST [--artifact ...] [--from-cluster]",
		Short: "Verify artifacts against a policy as Flux would, before it is applied",
		Long: `check renders the policy as render does and verifies artifacts with the
operator's verifier, which runs notation-go as Flux's source-controller does:
every certificate of the Secret trusted for every store, the first PEM block
of each key, at most 3 signatures, audit and skip levels never failing.

--artifact names an artifact directly; it is reached with the credentials of
a docker config file (--docker-config; credential helpers are not run),
--insecure (plain HTTP, as an OCIRepository's spec.insecure) and --ca-file.
--from-cluster adds the OCIRepositories and the HelmCharts (of OCI
HelmRepositories) the policy would govern in the cluster of the current
kubeconfig, each reached with its own pull secret, service account pull
secrets, TLS certificate Secret and insecure setting, as the operator's
preflight does; the policy's clusterTrustBundle sources are then read from
the cluster too (the files' bundles first), at the version it serves.

It prints one row per artifact (verdict, reason, signer subject) and the
message of every artifact that does not pass. An artifact passes when it
verifies, when its trust policy is audit or skip, or when it uses a cloud
provider's workload identity (Delegated: only Flux can check it).

` + exitCodesHelp,
		Example: `  kubectl vpol check -f policy.yaml --artifact oci://ghcr.io/example-corp/platform/manifests:v1.4.0
  kubectl vpol check -f policy.yaml --source-dir trust/ --from-cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, e) },
	}
	o.in.addFlags(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&o.artifacts, "artifact", nil, "an artifact to verify, oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@DIGEST; repeatable")
	f.BoolVar(&o.fromCluster, "from-cluster", false, "also verify the OCIRepositories and HelmCharts the policy would govern in the current cluster")
	f.StringVar(&o.dockerConfig, "docker-config", "", "docker config file with registry credentials for --artifact (default ~/.docker/config.json, if it exists)")
	f.BoolVar(&o.insecure, "insecure", false, "reach --artifact registries over plain HTTP")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file of CA certificates the --artifact registries' TLS certificates are trusted with, besides the system roots")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "bound on the registry work of one artifact")
	f.StringVarP(&o.output, "output", "o", "", "output format: wide adds the artifact digest")
	_ = cmd.MarkFlagFilename("docker-config", "json")
	_ = cmd.MarkFlagFilename("ca-file")
	return cmd
}

func (o *checkOptions) run(cmd *cobra.Command, e *env) error {
	if len(o.artifacts) == 0 && !o.fromCluster {
		return usageError("nothing to check: give --artifact or --from-cluster")
	}
	if o.output != "" && o.output != "wide" {
		return usageError("--output %q: only wide is supported", o.output)
	}
	artifacts := make([]artifactcheck.Artifact, 0, len(o.artifacts))
	for _, s := range o.artifacts {
		a, err := artifactcheck.ParseArtifact(s)
		if err != nil {
			return usageError("%v", err)
		}
		artifacts = append(artifacts, a)
	}
	access, err := o.access()
	if err != nil {
		return err
	}
	set, p, err := o.in.load(e, e.err)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var c client.Client
	if o.fromCluster {
		if c, err = e.newClient(); err != nil {
			return usageError("%v", err)
		}
	}
	bundles, err := clusterTrustBundles(set, p, c)
	if err != nil {
		return err
	}
	out, err := preview.Render(ctx, preview.Input{Policy: p, Sources: set.Reader(nil), ClusterTrustBundles: bundles,
		TrustNamespace: o.in.trustNamespace, SecretNames: o.in.secretNames, Now: e.now})
	if err != nil {
		return err
	}
	if out.Rejection != nil {
		printDiagnostics(e.err, nil, out.Rejection)
		return &exitError{code: ExitError, err: fmt.Errorf("the policy does not render: nothing to verify against")}
	}
	printDiagnostics(e.err, out.Rendered.Warnings, nil)

	v := verify.New(verify.Options{Timeout: o.timeout, UserAgent: "kubectl-vpol/" + e.build.Version})
	rows := artifactcheck.Check(ctx, v, out.Rendered, artifacts, access)
	if o.fromCluster {
		governed, err := artifactcheck.FromCluster(ctx, c, v, p, out.Rendered)
		if err != nil {
			return usageError("%v", err)
		}
		if len(governed) == 0 {
			fmt.Fprintf(e.err, "Note: the policy would govern no OCIRepository and no HelmChart in the cluster (spec.verify.provider notation, secretRef %s, in a targeted namespace)\n", p.SecretName())
		}
		rows = append(rows, governed...)
	}
	return printCheck(e, rows, o.output == "wide")
}

// access reads the registry settings of --artifact.
func (o *checkOptions) access() (verify.Access, error) {
	a := verify.Access{Insecure: o.insecure}
	path, explicit := o.dockerConfig, o.dockerConfig != ""
	if !explicit {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, ".docker", "config.json")
		}
	}
	if path != "" {
		cfg, err := os.ReadFile(path)
		switch {
		case err == nil:
			a.DockerConfigJSONs = [][]byte{cfg}
		case explicit || !os.IsNotExist(err):
			return a, usageError("--docker-config: %v", err)
		}
	}
	if o.caFile != "" {
		ca, err := os.ReadFile(o.caFile)
		if err != nil {
			return a, usageError("--ca-file: %v", err)
		}
		a.CAPEM = ca
	}
	return a, nil
}

func printCheck(e *env, rows []artifactcheck.Row, wide bool) error {
	header := []string{"ARTIFACT", "VERDICT", "REASON", "SIGNER"}
	if wide {
		header = append(header, "DIGEST")
	}
	cells := make([][]string, len(rows))
	failures := 0
	for i, r := range rows {
		cells[i] = []string{r.Artifact, r.Verdict, r.Reason, r.Signer}
		if wide {
			cells[i] = append(cells[i], r.Digest)
		}
		if !r.Passed() {
			failures++
		}
	}
	if err := printer.Table(e.out, header, cells); err != nil {
		return err
	}
	var notes []string
	for _, r := range rows {
		if !r.Passed() || r.Verdict == string(verify.Ignored) {
			name := r.Artifact
			if name != r.URL+r.Ref {
				name += " (" + r.URL + r.Ref + ")"
			}
			notes = append(notes, name+": "+r.Message)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(e.out)
		for _, n := range notes {
			fmt.Fprintln(e.out, n)
		}
	}
	fmt.Fprintln(e.out)
	if failures > 0 {
		fmt.Fprintf(e.out, "%d of %d artifacts would fail verification\n", failures, len(rows))
		return failed()
	}
	fmt.Fprintf(e.out, "all %d artifacts pass\n", len(rows))
	return nil
}
