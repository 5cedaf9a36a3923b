package v1alpha1

// Condition types set on a VerificationPolicy, in addition to the kstatus
// conditions Ready, Reconciling and Stalled (fluxcd/pkg/apis/meta).
const (
	// SecretsSyncedCondition reports whether every targeted namespace holds
	// the Secret rendered from the current spec.
	SecretsSyncedCondition = "SecretsSynced"

	// ArtifactsVerifiedCondition reports whether every governed artifact
	// (OCIRepositories, HelmCharts) verifies against the current trust
	// configuration.
	ArtifactsVerifiedCondition = "ArtifactsVerified"

	// RolloutHeldCondition is True while a new trust configuration is held
	// back because it would break artifacts (preflight or a failing stage).
	RolloutHeldCondition = "RolloutHeld"
)

// Condition reasons. They are part of the API: users write alerts on them.
const (
	// Success and progress use fluxcd/pkg/apis/meta's SucceededReason,
	// ProgressingReason and ProgressingWithRetryReason.

	// ReasonSuspended means spec.suspend is true; nothing is written.
	ReasonSuspended = "Suspended"

	// ReasonInvalidCertificate means a certificate source holds something
	// that is not a usable PEM certificate.
	ReasonInvalidCertificate = "InvalidCertificate"
	// ReasonPrivateKeyRejected means a certificate source holds private key
	// material. The content is never echoed.
	ReasonPrivateKeyRejected = "PrivateKeyRejected"
	// ReasonInvalidTrustPolicy means the rendered trust policy fails
	// notation-go's own validation.
	ReasonInvalidTrustPolicy = "InvalidTrustPolicy"
	// ReasonDuplicateKey means two certificates would share a Secret key.
	ReasonDuplicateKey = "DuplicateKey"
	// ReasonSecretTooLarge means the rendered data exceeds the Secret size limit.
	ReasonSecretTooLarge = "SecretTooLarge"
	// ReasonSourceNotFound means a referenced Secret or ConfigMap does not
	// exist in the trust namespace, or a clusterTrustBundle source that is
	// not optional selects no ClusterTrustBundle.
	ReasonSourceNotFound = "SourceNotFound"
	// ReasonClusterTrustBundleAPINotServed means a clusterTrustBundle source
	// is used and the API server serves neither certificates.k8s.io/v1 nor
	// v1beta1 ClusterTrustBundles (Kubernetes 1.33 to 1.36 serve v1beta1
	// only with the ClusterTrustBundle feature gate and the API enabled).
	// Nothing is written; the policy syncs by itself once the API appears.
	ReasonClusterTrustBundleAPINotServed = "ClusterTrustBundleAPINotServed"
	// ReasonSourceKeyNotFound means a referenced Secret or ConfigMap lacks
	// the referenced key.
	ReasonSourceKeyNotFound = "SourceKeyNotFound"
	// ReasonInvalidSpec means the spec holds something the API server could
	// not reject by itself (for example an unparsable label selector).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonSecretNameNotAllowed means target.secretName is not one of the
	// names the operator was installed to write (--target-secret-names):
	// its RBAC grants Secret access by name only.
	ReasonSecretNameNotAllowed = "SecretNameNotAllowed"

	// ReasonSyncFailed means at least one namespace could not be written.
	ReasonSyncFailed = "SyncFailed"
	// ReasonSecretConflict means a Secret we do not own is in the way in at
	// least one namespace.
	ReasonSecretConflict = "SecretConflict"
	// ReasonNoTargetNamespaces means no existing namespace is targeted.
	ReasonNoTargetNamespaces = "NoTargetNamespaces"

	// ReasonTerminating means the namespace is being deleted; it is skipped.
	ReasonTerminating = "NamespaceTerminating"
	// ReasonNamespaceNotFound means a namespace listed by name does not exist.
	ReasonNamespaceNotFound = "NamespaceNotFound"
	// ReasonPreflightFailed: artifacts that verify today would fail with
	// the new configuration; nothing was written.
	ReasonPreflightFailed = "PreflightFailed"
	// ReasonStageFailed: an artifact of a rollout stage fails with the new
	// configuration; later stages keep the previous one.
	ReasonStageFailed = "StageFailed"
	// ReasonRolloutProgressing: a staged rollout is under way.
	ReasonRolloutProgressing = "RolloutProgressing"
	// ReasonStageForced: a stage's artifacts fail with the new
	// configuration, and the force-rollout annotation let it through.
	ReasonStageForced = "StageForced"
	// ReasonRolloutComplete: the desired configuration reached every stage.
	ReasonRolloutComplete = "RolloutComplete"

	// ReasonWriteFailed means the API server refused a write to a namespace.
	ReasonWriteFailed = "WriteFailed"
	// ReasonWaitingForAPIDiscovery: a rollout gate needs to know whether the
	// OCIRepository API is served, or a clusterTrustBundle source which
	// ClusterTrustBundle API version is, and the manager has not looked yet
	// (it just started): nothing is written until it has.
	ReasonWaitingForAPIDiscovery = "WaitingForAPIDiscovery"
)

// Reasons of the ArtifactsVerified condition and of artifact issues.
const (
	// ReasonOCIRepositoryAPINotFound: neither Flux's OCIRepository nor its
	// HelmChart API is served.
	ReasonOCIRepositoryAPINotFound = "OCIRepositoryAPINotFound"
	// ReasonArtifactsFailed: at least one governed artifact fails.
	ReasonArtifactsFailed = "VerificationFailed"
	// ReasonArtifactsPending: some verdicts are not known yet.
	ReasonArtifactsPending = "VerificationPending"
	// ReasonDelegatedToFlux: the artifact's registry uses a cloud identity
	// only source-controller has; Flux's verdict is used.
	ReasonDelegatedToFlux = "VerificationDelegatedToFlux"
	// ReasonTrustSecretMissing: the namespace does not hold this policy's
	// Secret yet.
	ReasonTrustSecretMissing = "TrustSecretNotSynced"
	// ReasonRegistryAccess: the artifact's registry access settings (pull
	// secrets, TLS Secret, service account) are missing or unusable.
	ReasonRegistryAccess = "RegistryAccessInvalid"
	// ReasonRegistryCredentialsNotPermitted: the artifact's registry
	// credentials are in Secrets the operator is not allowed to read (the
	// registry-credentials ClusterRole is not bound); Flux's verdict is used.
	ReasonRegistryCredentialsNotPermitted = "RegistryCredentialsNotPermitted"
	// ReasonFluxStale: Flux reports success from before the last trust change.
	ReasonFluxStale = "FluxResultStale"
	// ReasonFluxFailed: Flux reports the verification failed.
	ReasonFluxFailed = "FluxVerificationFailed"
	// ReasonFluxReverifyFailed: after repeated forced re-verifications
	// Flux still reports the verdict it had before the trust change.
	ReasonFluxReverifyFailed = "FluxReverifyFailed"
)
