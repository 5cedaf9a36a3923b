// Command kubectl-vpol renders, checks and explains verification-operator
// VerificationPolicies without the operator, for CI and for people. Put it
// on PATH and kubectl runs it as "kubectl vpol". The commands live in
// internal/commands; this file only hands over the process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/commands"
)

// Set at build time with -ldflags -X, as for the manager.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	// The operator's packages log for the manager (discovery, the checker);
	// a command says everything on its own outputs, and controller-runtime
	// would otherwise warn on stderr that no logger was set.
	log.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := commands.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, commands.Build{Version: version, Commit: commit})
	stop()
	os.Exit(code)
}
