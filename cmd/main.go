// Command manager runs verification-operator's controllers.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/fluxcd/pkg/runtime/logger"
	"github.com/fluxcd/pkg/runtime/pprof"
	flag "github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers"
	"github.com/flux-notation/verification-operator/controllers/metricsauth"
)

// Set at build time with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
)

const defaultTrustNamespace = "verification-operator-system"

type options struct {
	metricsAddr, probeAddr string
	secureMetrics          bool
	enablePprof            bool
	leaderElect            bool
	leaseDuration          time.Duration
	renewDeadline          time.Duration
	retryPeriod            time.Duration
	trustNamespace         string
	concurrency            int
	writeConcurrency       int
	conflictRetry          time.Duration
	printVersion           bool
	kubeconfig             string
	verifyTimeout          time.Duration
	verifyConcurrency      int
	verifyPerRegistry      int
	rolloutRecheck         time.Duration
	targetSecretNames      []string
	logOptions             logger.Options
	kubeAPIQPS             float32
	kubeAPIBurst           int
}

func parseFlags(args []string, output io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443",
		"Address the metrics endpoint binds to; \"0\" disables it.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorized with the API server's TokenReview and SubjectAccessReview.")
	fs.BoolVar(&o.enablePprof, "enable-pprof", false,
		"Serve /debug/pprof on the metrics endpoint.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081",
		"Address the /healthz and /readyz probes bind to.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Elect a leader so that only one replica writes.")
	fs.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 35*time.Second,
		"How long non-leaders wait before taking over an unrenewed lease.")
	fs.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 30*time.Second,
		"How long the leader retries renewing before giving up leadership.")
	fs.DurationVar(&o.retryPeriod, "leader-election-retry-period", 5*time.Second,
		"How long clients wait between leader election attempts.")
	fs.StringVar(&o.trustNamespace, "trust-namespace", envOr("POD_NAMESPACE", defaultTrustNamespace),
		"The only namespace certificate source Secrets and ConfigMaps are read from (default: $POD_NAMESPACE, else "+defaultTrustNamespace+").")
	fs.IntVar(&o.concurrency, "concurrency", 4,
		"VerificationPolicies reconciled in parallel.")
	fs.IntVar(&o.writeConcurrency, "write-concurrency", 16,
		"Parallel Secret writes per VerificationPolicy; bounded by --kube-api-qps/--kube-api-burst as well.")
	fs.DurationVar(&o.conflictRetry, "conflict-retry-interval", 2*time.Minute,
		"How often namespaces with an unowned Secret in the way are retried.")
	fs.DurationVar(&o.verifyTimeout, "verify-timeout", 30*time.Second,
		"Timeout of each registry interaction when verifying an artifact.")
	fs.IntVar(&o.verifyConcurrency, "verify-concurrency", 16,
		"Artifacts verified in parallel.")
	fs.IntVar(&o.verifyPerRegistry, "verify-per-registry", 8,
		"Artifacts verified in parallel against one registry host, so a slow registry cannot take every worker.")
	fs.DurationVar(&o.rolloutRecheck, "rollout-recheck-interval", time.Minute,
		"How often a held or waiting rollout verifies its artifacts again (re-signing keeps an artifact's digest).")
	fs.StringSliceVar(&o.targetSecretNames, "target-secret-names", []string{v1alpha1.DefaultSecretName},
		"The Secret names policies may write (target.secretName), comma-separated. The manager's ClusterRole must grant "+
			"get, list, watch, update and delete on Secrets with exactly these resourceNames: it can read no other Secret outside the trust namespace.")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "",
		"Path to a kubeconfig; default: $KUBECONFIG, the in-cluster config, then ~/.kube/config.")
	fs.BoolVar(&o.printVersion, "version", false, "Print the version and exit.")
	o.logOptions.BindFlags(fs)
	fs.Float32Var(&o.kubeAPIQPS, "kube-api-qps", 50.0, "The maximum queries-per-second of requests sent to the Kubernetes API.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 300, "The maximum burst queries-per-second of requests sent to the Kubernetes API.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.trustNamespace == "" {
		return nil, fmt.Errorf("--trust-namespace must not be empty")
	}
	if err := validateSecretNames(o.targetSecretNames); err != nil {
		return nil, fmt.Errorf("--target-secret-names: %w", err)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2)
	}
	if o.printVersion {
		fmt.Printf("verification-operator %s (%s)\n", version, commit)
		return
	}
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.Error(err, "manager exited with an error")
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	ctrl.SetLogger(logger.NewLogger(o.logOptions))
	setupLog := ctrl.Log.WithName("setup")
	setupLog.Info("starting verification-operator", "version", version, "commit", commit, "trustNamespace", o.trustNamespace, "targetSecretNames", o.targetSecretNames)

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}

	restConfig, err := loadRESTConfig(o)
	if err != nil {
		return err
	}
	metricsOpts := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.secureMetrics}
	if o.secureMetrics {
		metricsOpts.FilterProvider = metricsauth.Filter
	}
	if o.enablePprof {
		metricsOpts.ExtraHandlers = pprof.GetHandlers()
	}

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              "verification-operator.flux-notation.io",
		LeaderElectionNamespace:       o.trustNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.leaseDuration,
		RenewDeadline:                 &o.renewDeadline,
		RetryPeriod:                   &o.retryPeriod,
		Cache:                         controllers.CacheOptions(),
		Client:                        controllers.ClientOptions(),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	if err := controllers.Setup(ctx, mgr, controllers.Options{
		TrustNamespace:         o.trustNamespace,
		Concurrency:            o.concurrency,
		WriteConcurrency:       o.writeConcurrency,
		ConflictRetryInterval:  o.conflictRetry,
		VerifyTimeout:          o.verifyTimeout,
		VerifyConcurrency:      o.verifyConcurrency,
		VerifyPerRegistry:      o.verifyPerRegistry,
		RolloutRecheckInterval: o.rolloutRecheck,
		TargetSecretNames:      o.targetSecretNames,
	}); err != nil {
		return err
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	// Ready only once the informers have synced: before that the manager
	// would act on an empty view of the cluster.
	if err := mgr.AddReadyzCheck("informers", func(req *http.Request) error {
		waitCtx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(waitCtx) {
			return errors.New("informer caches are not synced yet")
		}
		return nil
	}); err != nil {
		return err
	}

	setupLog.Info("starting manager")
	return mgr.Start(ctx)
}

// loadRESTConfig reads --kubeconfig, else controller-runtime's usual chain,
// and applies --kube-api-qps/--kube-api-burst.
func loadRESTConfig(o *options) (*rest.Config, error) {
	var (
		cfg *rest.Config
		err error
	)
	if o.kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	} else {
		cfg, err = ctrlconfig.GetConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	cfg.QPS = o.kubeAPIQPS
	cfg.Burst = o.kubeAPIBurst
	cfg.UserAgent = "verification-operator/" + version
	return cfg, nil
}

// validateSecretNames requires at least one name, each a valid Secret name
// and listed once.
func validateSecretNames(names []string) error {
	if len(names) == 0 {
		return errors.New("at least one Secret name is required")
	}
	seen := map[string]bool{}
	for _, n := range names {
		if msgs := validation.IsDNS1123Subdomain(n); len(msgs) > 0 {
			return fmt.Errorf("%q is not a valid Secret name: %s", n, strings.Join(msgs, "; "))
		}
		if seen[n] {
			return fmt.Errorf("%q is listed twice", n)
		}
		seen[n] = true
	}
	return nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
