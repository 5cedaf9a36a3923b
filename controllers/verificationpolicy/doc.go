// Package verificationpolicy is the sync reconciler: it renders each
// VerificationPolicy's trust configuration and keeps a copy of it in every
// targeted namespace.
//
// Reconcile reads as a list of named steps (reconciler.go, steps()), each
// in the file named below (advanceStage and completeRollout share
// stage.go), working on one pass (pass.go) that holds what is
// computed once per reconcile: the rendered data, the namespace selection,
// the policy's Secrets, the rollout plan and the sync report. A step says
// in its doc comment which conditions it sets; finish (finish.go) is the one
// place that settles Reconciling, Stalled, observedGeneration and
// lastHandledReconcileAt, and writes status, in one request
// (internal/policystatus).
//
// The steps:
//
//  1. admitSecretName (admit.go): refuse a target.secretName outside
//     --target-secret-names (Stalled, SecretNameNotAllowed); no Secret is
//     written.
//  2. renderSources (render.go): resolve the certificate sources in the
//     trust namespace (and ClusterTrustBundles, cluster-scoped, watched
//     once discovery finds their API: clustertrustbundles.go) and render
//     the Secret data. Bad input writes nothing.
//  3. selectTargets (select.go): the targeted namespaces, and the policy's
//     Secrets there and elsewhere.
//  4. gateRollout (gate.go): the preflight and the stage plan of a gated
//     rollout; a failed preflight stops here.
//  5. writeSecrets (write.go): create or update the Secrets, prune stale
//     ones, report per namespace.
//  6. advanceStage (stage.go): verify the stage being rolled out and move
//     on, or hold.
//  7. completeRollout (stage.go): record the configuration that reached
//     every namespace as the stable one.
//
// Beside the steps: finalize.go (deletion: remove or orphan the Secrets),
// snapshot.go (the rollout snapshot Secret in the trust namespace),
// report.go (the per-namespace sync report), watches.go and
// clustertrustbundles.go (what wakes a policy), metrics.go.
//
// To add a step, write it as func(ctx, *pass) (stop bool, err error) in a
// file of its own (or next to the step it belongs with, as stage.go does),
// say which conditions it sets, and put it in steps() in order.
package verificationpolicy
