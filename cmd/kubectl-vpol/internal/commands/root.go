// Package commands is kubectl vpol's command line: cobra commands (the
// Kubernetes CLI convention), kubectl's cluster flags, and the exit codes
// CI relies on. Each command only wires flags to the packages that do the
// work (manifests, preview, artifactcheck, statusview, policydiff) and
// prints what they return.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/kube"
)

// Exit codes, the same for every command.
const (
	// ExitOK: rendered; every artifact verifies; no difference.
	ExitOK = 0
	// ExitFailed: the answer is no: render rejected the policy, an artifact
	// would fail verification, or diff found differences.
	ExitFailed = 1
	// ExitError: the question could not be answered: bad flags, unreadable
	// files, no cluster, or (check, diff) a policy that does not render.
	ExitError = 2
)

const exitCodesHelp = `Exit codes:
  0  success: the policy renders (render), every artifact verifies or is
     ignored by an audit or skip trust policy (check), nothing would change (diff)
  1  the answer is no: the operator would reject the policy (render), an
     artifact would fail verification or could not be checked (check), applying
     the policy would change something (diff, like kubectl diff)
  2  usage or input errors: bad flags, unreadable or invalid files, no cluster,
     and for check and diff a policy the operator would reject`

// Build identifies the binary; main sets it from -ldflags.
type Build struct{ Version, Commit string }

// exitError ends a command with a code. Silent errors were already
// explained on the output.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// failed ends a command with ExitFailed, having said why already.
func failed() error { return &exitError{code: ExitFailed, silent: true} }

// usageError ends a command with ExitError and a message.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitError, err: fmt.Errorf(format, args...)}
}

// streams are a command's input and outputs: stdout for the answer (a
// Secret, a table), stderr for notes, warnings and errors.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// env is what every command shares.
type env struct {
	streams
	build Build
	kube  *genericclioptions.ConfigFlags
	// now is the time validity warnings are computed for (the hidden --now
	// flag, for reproducible output); zero is now.
	now time.Time
	// newClient is kube.Client, replaceable in tests.
	newClient func() (client.Client, error)
}

// Run runs kubectl vpol with args (without the program name) and returns
// the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, build Build) int {
	root := newRoot(streams{in: stdin, out: stdout, err: stderr}, build)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if !exit.silent {
			fmt.Fprintln(stderr, "Error:", exit.Error())
		}
		return exit.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return ExitError
}

func newRoot(s streams, build Build) *cobra.Command {
	e := &env{streams: s, build: build, kube: genericclioptions.NewConfigFlags(true)}
	e.newClient = func() (client.Client, error) {
		return kube.Client(e.kube, "kubectl-vpol/"+build.Version)
	}
	root := &cobra.Command{
		Use:   "kubectl-vpol",
		Short: "Render, check and explain verification-operator VerificationPolicies",
		Long: `kubectl vpol answers, before a merge and after it, what a VerificationPolicy
does: the Secret the operator would write (render), whether artifacts would
verify with it (check), what applying it would change (diff), and what the
policy's status says (status). It uses the operator's own renderer and
verifier, so its answers are the operator's.

Install it as a kubectl plugin by putting kubectl-vpol on your PATH; kubectl
then runs it as "kubectl vpol".

` + exitCodesHelp,
		Version:       fmt.Sprintf("%s (%s)", build.Version, build.Commit),
		SilenceUsage:  true,
		SilenceErrors: true,
		// A plugin is run as "kubectl vpol"; say so in usage lines.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl vpol"},
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })
	e.kube.AddFlags(root.PersistentFlags())
	root.PersistentFlags().Var(timeFlag{&e.now}, "now", "render as of this RFC 3339 time (for reproducible validity warnings)")
	_ = root.PersistentFlags().MarkHidden("now")

	root.AddCommand(newRender(e), newCheck(e), newStatus(e), newDiff(e), newVersion(e))
	return root
}

// timeFlag parses RFC 3339 times.
type timeFlag struct{ t *time.Time }

func (f timeFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return err
	}
	*f.t = t
	return nil
}

func (timeFlag) Type() string { return "time" }

func newVersion(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(e.out, "kubectl-vpol %s (%s)\n", e.build.Version, e.build.Commit)
			return nil
		},
	}
}
