package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
	"github.com/flux-notation/verification-operator/test/registry"
)

// Names the demo creates.
const (
	policyName        = "demo-releases"
	verifyLabel       = "flux-notation.io/verify"
	ociRepositoryName = "app"
	signerName        = "Demo Release Signing"
)

var (
	// teams are labelled and get the Secret; sandbox is not and does not.
	// team-d deploys an OCI Helm chart (a HelmChart), the others an
	// OCIRepository.
	teams     = []string{"team-a", "team-b", "team-c", "team-d"}
	chartTeam = "team-d"
	sandbox   = "sandbox"
)

// stepTimeout bounds every wait of a step; a healthy step takes seconds.
const stepTimeout = 2 * time.Minute

// demo is the state shared by the steps, in the order they fill it in.
type demo struct {
	out       io.Writer
	dir       string // bin/demo
	keep      bool
	probeAddr string

	start      time.Time
	binary     string
	plane      *cluster.ControlPlane
	kubeconfig string
	k8s        client.WithWatch
	install    *cluster.Install
	manager    *cluster.Manager
	registry   *registry.Registry
	flux       *cluster.SourceController
	table      *table
	// G1 is trusted first; G2 is its successor, which the rotation trusts.
	caG1, signerG1, caG2, signerG2 *certs.Cert

	// What the policy showed after it was created and after the rotation.
	before, after snapshot
	rotation      time.Duration

	// cleanups run in reverse order when the demo ends, however it ends.
	cleanups []func()
}

// step is one thing the demo does, announced by its title.
type step struct {
	title string
	run   func(context.Context) error
}

// stepError names the step that failed.
type stepError struct {
	title string
	err   error
}

func (e *stepError) Error() string { return fmt.Sprintf("%s: %v", e.title, e.err) }
func (e *stepError) Unwrap() error { return e.err }

func (d *demo) run(ctx context.Context) error {
	d.start = time.Now()
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	d.table = newTable(policyName, append(append([]string{}, teams...), sandbox))
	for _, s := range d.steps() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.printf("==> %s\n", s.title)
		if err := s.run(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &stepError{title: s.title, err: err}
		}
	}
	if d.keep {
		return d.stayUp(ctx)
	}
	return nil
}

// steps is the demo's script.
func (d *demo) steps() []step {
	return []step{
		{"building bin/manager (a no-op when it is up to date)", d.buildManager},
		{"starting a local control plane (kube-apiserver + etcd on 127.0.0.1)", d.startControlPlane},
		{"installing the operator's CRD and RBAC (config/default), and Flux's source CRDs", d.installOperator},
		{"starting Flux's source-controller (the real one, built from the module proxy)", d.startFlux},
		{fmt.Sprintf("creating namespaces %s (labelled %s=true) and %s (not labelled)", strings.Join(teams, ", "), verifyLabel, sandbox), d.createNamespaces},
		{"creating demo CAs: G1, trusted from the start, and its successor G2", d.createCAs},
		{"starting an OCI registry (distribution v3, in this process)", d.startRegistry},
		{"pushing one artifact per team, signed with notation-go", d.pushArtifacts},
		{"starting bin/manager as its own process, as the operator's ServiceAccount", d.startManager},
		{fmt.Sprintf("creating VerificationPolicy %s: trust G1, target %s=true", policyName, verifyLabel), d.createPolicy},
		{fmt.Sprintf("creating OCIRepository %q in team-a, b and c, and HelmChart %q from an OCI HelmRepository in %s (verify: notation, secretRef %s); Flux and the operator each verify", ociRepositoryName, ociRepositoryName, chartTeam, v1alpha1.DefaultSecretName), d.createOCIRepositories},
		{"rotating the CA to G2: the new trust configuration reaches every namespace and the verdicts change", d.rotateCA},
		{"summary", d.summary},
		// Last: the demo ends on the policy's whole story as a user sees it.
		{fmt.Sprintf("kubectl vpol status %s: the same story from the command line (bin/kubectl-vpol)", policyName), d.showCLIStatus},
	}
}

// stayUp keeps the processes running for exploration until Ctrl-C.
func (d *demo) stayUp(ctx context.Context) error {
	d.printf("==> DEMO_KEEP=1: the control plane and the manager keep running; press Ctrl-C to stop them\n")
	d.printf("    KUBECONFIG=%s kubectl get vpol\n", d.rel(d.kubeconfig))
	select {
	case <-ctx.Done():
		return nil
	case <-d.manager.Done():
		return fmt.Errorf("the manager exited (code %d); its log ends with:\n%s", d.manager.ExitCode(), d.manager.LogTail(20))
	}
}

// onCleanUp registers fn to run when the demo ends.
func (d *demo) onCleanUp(fn func()) {
	d.cleanups = append(d.cleanups, fn)
}

// cleanUp stops what the demo started, newest first: the manager before the
// API server it talks to.
func (d *demo) cleanUp() {
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
	d.cleanups = nil
}

func (d *demo) printf(format string, args ...any) {
	fmt.Fprintf(d.out, format, args...)
}

// rel shortens path relative to the working directory when it is below it,
// so printed commands can be pasted as they are.
func (d *demo) rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && filepath.IsLocal(r) {
		return r
	}
	return path
}
