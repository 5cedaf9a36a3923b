package v1alpha1

import (
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// VerificationPolicyKind is the kind of the API's only object.
	VerificationPolicyKind = "VerificationPolicy"

	// DefaultSecretName is the Secret name Flux users reference from
	// OCIRepository.spec.verify.secretRef when nothing else is set.
	DefaultSecretName = "notation-config"

	// ManagedByLabel marks every Secret this operator writes. The manager's
	// cache is filtered on it, so unrelated Secrets cost no memory.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel on our Secrets.
	ManagedByValue = "verification-operator"
	// PolicyLabel names the VerificationPolicy that owns a generated Secret.
	PolicyLabel = "verification.flux-notation.io/policy"
	// TrustDigestAnnotation holds the trust digest of a generated Secret's
	// data, so drift is detected without comparing payloads.
	TrustDigestAnnotation = "verification.flux-notation.io/trust-digest"
	// ForceRolloutAnnotation, set on a policy to a trust digest, accepts
	// that rolling out that digest breaks artifacts: the preflight and stage
	// gates let it through.
	ForceRolloutAnnotation = "verification.flux-notation.io/force-rollout"
	// RoleLabel tells apart the operator's own bookkeeping Secrets (the
	// rollout snapshot) from the Secrets it writes for Flux.
	RoleLabel = "verification.flux-notation.io/role"
	// RoleRolloutSnapshot marks the Secret in the trust namespace that keeps
	// a policy's last fully rolled-out configuration.
	RoleRolloutSnapshot = "rollout-snapshot"
	// FinalizerName lets the operator strip ownership from orphaned Secrets
	// before a policy with deletionPolicy Orphan goes away.
	FinalizerName = "verification.flux-notation.io/finalizer"
)

// CertificateType is the Notation trust store type a certificate belongs to.
// +kubebuilder:validation:Enum=ca;signingAuthority;tsa
type CertificateType string

const (
	// CertificateTypeCA roots signatures of the notary.x509 signing scheme.
	CertificateTypeCA CertificateType = "ca"
	// CertificateTypeSigningAuthority roots notary.x509.signingAuthority signatures.
	CertificateTypeSigningAuthority CertificateType = "signingAuthority"
	// CertificateTypeTSA roots RFC 3161 timestamp countersignatures.
	CertificateTypeTSA CertificateType = "tsa"
)

// ValidationAction is what Notation does when a verification check fails.
// +kubebuilder:validation:Enum=enforce;log;skip
type ValidationAction string

// DeletionPolicy says what happens to generated Secrets when their policy is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete garbage-collects the generated Secrets with the policy.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the generated Secrets in place, no longer managed.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// ReverifyMode says how the operator makes Flux re-verify after a trust change.
// +kubebuilder:validation:Enum=None;RequestReconcile;Force
type ReverifyMode string

const (
	// ReverifyNone leaves Flux alone.
	ReverifyNone ReverifyMode = "None"
	// ReverifyRequestReconcile sets reconcile.fluxcd.io/requestedAt on each
	// governed OCIRepository when its namespace's trust digest changes.
	// source-controller before v1.10 then keeps a SourceVerified=True from
	// before the change; the policy reports it as fluxStale.
	ReverifyRequestReconcile ReverifyMode = "RequestReconcile"
	// ReverifyForce makes Flux verify again on any version: for
	// source-controller v1.10+ (which records a fingerprint) a requested
	// reconcile is enough; for older ones the SourceVerified condition is
	// removed from the OCIRepository's status first, which makes Flux verify
	// the unchanged revision again. The operator confirms Flux produced a
	// new verdict and forces again (bounded) if an old one reappears.
	ReverifyForce ReverifyMode = "Force"
)

// VerificationMode switches operator-side signature verification.
// +kubebuilder:validation:Enum=Enabled;Disabled
type VerificationMode string

const (
	// VerificationEnabled verifies governed artifacts with notation-go.
	VerificationEnabled VerificationMode = "Enabled"
	// VerificationDisabled reports only what Flux reports.
	VerificationDisabled VerificationMode = "Disabled"
)

// RolloutStrategy says how a new trust configuration reaches the namespaces.
// +kubebuilder:validation:Enum=AllAtOnce;Staged
type RolloutStrategy string

const (
	// RolloutAllAtOnce writes every targeted namespace in one pass.
	RolloutAllAtOnce RolloutStrategy = "AllAtOnce"
	// RolloutStaged writes stage by stage, gated on verification.
	RolloutStaged RolloutStrategy = "Staged"
)

// VerificationPolicySpec is the desired Notation trust configuration and
// where it must be written.
// +kubebuilder:validation:XValidation:rule="self.trustPolicies.filter(p, '*' in p.registryScopes).size() <= 1",message="only one trust policy statement may use the '*' registry scope"
type VerificationPolicySpec struct {
	// TrustPolicies are Notation trust policy statements, written in this
	// order. Trust stores are not set here: the operator fills them from the
	// types of the configured certificates.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	TrustPolicies []TrustPolicyStatement `json:"trustPolicies"`

	// Certificates are the trusted roots, each from exactly one source.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	Certificates []CertificateSource `json:"certificates"`

	// Target says which namespaces receive the rendered Secret and how it looks.
	Target Target `json:"target"`

	// OCIRepositories configures how the Flux objects that verify with the
	// generated Secret are found and re-verified: its reverify, verification
	// and interval apply to every governed kind (OCIRepositories and
	// HelmCharts), its selector to OCIRepositories.
	// +kubebuilder:default={}
	// +optional
	OCIRepositories OCIRepositoriesSpec `json:"ociRepositories,omitempty"`

	// HelmCharts narrows the governed Flux HelmCharts (charts from an OCI
	// HelmRepository, which verify with the generated Secret too).
	// +optional
	HelmCharts HelmChartsSpec `json:"helmCharts,omitempty"`

	// Rollout says how a changed trust configuration reaches the namespaces.
	// +kubebuilder:default={}
	// +optional
	Rollout RolloutSpec `json:"rollout,omitempty"`

	// Interval is the period of a full resync, which restores anything the
	// watches missed.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Suspend stops all writes for this policy. Existing Secrets stay as they are.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// TrustPolicyStatement is one Notation trust policy statement, without
// trustStores.
// +kubebuilder:validation:XValidation:rule="self.signatureVerification.level == 'skip' || (has(self.trustedIdentities) && size(self.trustedIdentities) > 0)",message="trustedIdentities are required unless the level is skip"
// +kubebuilder:validation:XValidation:rule="self.signatureVerification.level != 'skip' || !has(self.trustedIdentities) || size(self.trustedIdentities) == 0",message="a statement with level skip takes no trustedIdentities"
type TrustPolicyStatement struct {
	// Name of the statement. It also names the trust stores the operator
	// writes (ca:<name>), so it follows Notation's trust store name rules.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_.-]+$`
	Name string `json:"name"`

	// RegistryScopes are the repositories this statement applies to, as
	// go-containerregistry names them (docker.io/x is index.docker.io/x;
	// a local registry is localhost:5000/repo), or '*' alone.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!('*' in self) || size(self) == 1",message="'*' must be the only registry scope of its statement"
	// +listType=set
	RegistryScopes []string `json:"registryScopes"`

	// SignatureVerification sets the verification level and its overrides.
	SignatureVerification SignatureVerification `json:"signatureVerification"`

	// TrustedIdentities are '*' alone or 'x509.subject: <DN>' entries.
	// Required unless the level is skip.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!('*' in self) || size(self) == 1",message="'*' must be the only trusted identity of its statement"
	// +kubebuilder:validation:XValidation:rule="self.all(i, i == '*' || i.startsWith('x509.subject:'))",message="a trusted identity is '*' or starts with 'x509.subject:'"
	// +listType=set
	// +optional
	TrustedIdentities []string `json:"trustedIdentities,omitempty"`
}

// SignatureVerification mirrors Notation's signatureVerification block.
// +kubebuilder:validation:XValidation:rule="self.level != 'skip' || !has(self.override)",message="level skip cannot be customized with override"
type SignatureVerification struct {
	// Level is strict, permissive, audit or skip.
	// +kubebuilder:validation:Enum=strict;permissive;audit;skip
	Level string `json:"level"`

	// Override changes the action of single checks. Integrity cannot be
	// overridden, and only revocation may be skipped (Notation's rules).
	// +kubebuilder:validation:MaxProperties=4
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['authenticity', 'authenticTimestamp', 'expiry', 'revocation'])",message="override keys are authenticity, authenticTimestamp, expiry or revocation (integrity cannot be overridden)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k == 'revocation' || self[k] != 'skip')",message="only revocation may be set to skip"
	// +optional
	Override map[string]ValidationAction `json:"override,omitempty"`

	// VerifyTimestamp is always (the default) or afterCertExpiry.
	// +kubebuilder:validation:Enum=always;afterCertExpiry
	// +optional
	VerifyTimestamp string `json:"verifyTimestamp,omitempty"`
}

// CertificateSource is one named source of PEM certificates.
// +kubebuilder:validation:XValidation:rule="[has(self.inline), has(self.secretRef), has(self.configMapRef), has(self.clusterTrustBundle)].filter(x, x).size() == 1",message="exactly one of inline, secretRef, configMapRef or clusterTrustBundle must be set"
type CertificateSource struct {
	// Name is the key stem in the generated Secret: <name>.crt, or
	// <name>-<n>.crt when the source holds several certificates.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Type is the Notation trust store type. Flux trusts every certificate
	// for every store type, so mixing tsa with ca or signingAuthority is
	// reported as a warning.
	// +kubebuilder:default=ca
	// +optional
	Type CertificateType `json:"type,omitempty"`

	// Inline is PEM text holding one or more certificates.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=524288
	// +optional
	Inline string `json:"inline,omitempty"`

	// SecretRef is a key of a Secret in the operator's trust namespace.
	// +optional
	SecretRef *KeyReference `json:"secretRef,omitempty"`

	// ConfigMapRef is a key of a ConfigMap in the operator's trust namespace.
	// +optional
	ConfigMapRef *KeyReference `json:"configMapRef,omitempty"`

	// ClusterTrustBundle takes the certificates of one ClusterTrustBundle
	// (certificates.k8s.io), or of every bundle of a signer, as a projected
	// volume's clusterTrustBundle source does.
	// +optional
	ClusterTrustBundle *ClusterTrustBundleSource `json:"clusterTrustBundle,omitempty"`
}

// ClusterTrustBundleSource selects ClusterTrustBundles, the cluster's
// published trust anchors (cluster-scoped, served as certificates.k8s.io/v1
// or, behind the ClusterTrustBundle feature gate, v1beta1). It follows a
// projected volume's ClusterTrustBundleProjection: exactly one of name, or
// signerName with an optional labelSelector.
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.signerName)",message="exactly one of name or signerName must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.labelSelector) || has(self.signerName)",message="labelSelector chooses among the bundles of a signerName and cannot be used with name"
type ClusterTrustBundleSource struct {
	// Name of one ClusterTrustBundle. A bundle with a signer is named
	// <signer name with '/' as ':'>:<suffix>, for example
	// example.com:release-roots:g2. At most 825 characters: a signer name
	// of up to 571, its ':' and a DNS subdomain.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=825
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$`
	// +optional
	Name string `json:"name,omitempty"`

	// SignerName takes every ClusterTrustBundle of this signer that
	// labelSelector matches, in the order of their names. A signer name is
	// a domain and a path, for example example.com/release-roots.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=571
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	SignerName string `json:"signerName,omitempty"`

	// LabelSelector narrows the bundles of signerName by label. Unset, every
	// bundle of the signer is taken. (A projected volume takes none when its
	// selector is unset, and so fails unless optional: no projection that
	// works changes meaning here.)
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// Optional allows the selection to be empty: a missing bundle, or no
	// bundle of the signer matching, then contributes no certificate, as
	// long as another source supplies one. Without it an empty selection is
	// SourceNotFound, and the last good Secrets stay.
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// KeyReference names a key of a Secret or ConfigMap in the operator's trust
// namespace. There is deliberately no namespace field: sources are read from
// the trust namespace only, so a policy author cannot copy Secrets out of
// namespaces they cannot read.
type KeyReference struct {
	// Name of the Secret or ConfigMap.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// Key within its data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// Target says where the rendered Secret goes and how it is labelled.
// +kubebuilder:validation:XValidation:rule="(has(self.namespaces) && size(self.namespaces) > 0) || has(self.namespaceSelector)",message="at least one of namespaces or namespaceSelector must be set"
type Target struct {
	// SecretName is the name of the generated Secret in every target
	// namespace; OCIRepositories reference it in spec.verify.secretRef.
	// It must be one of the names the operator is installed to write
	// (its --target-secret-names flag; by default only notation-config),
	// else the policy is Stalled with reason SecretNameNotAllowed.
	// +kubebuilder:default=notation-config
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// Namespaces are targeted by name.
	// +kubebuilder:validation:MaxItems=10000
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +listType=set
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelector targets every namespace whose labels match.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// Labels are added to every generated Secret. The operator's own
	// labels cannot be overridden.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="!('app.kubernetes.io/managed-by' in self) && !('verification.flux-notation.io/policy' in self) && !('verification.flux-notation.io/role' in self)",message="the labels app.kubernetes.io/managed-by, verification.flux-notation.io/policy and verification.flux-notation.io/role are reserved for the operator"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations are added to every generated Secret.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="!('verification.flux-notation.io/trust-digest' in self)",message="the annotation verification.flux-notation.io/trust-digest is reserved for the operator"
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// DeletionPolicy says what happens to the generated Secrets when the
	// policy is deleted: Delete (default) or Orphan.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// OCIRepositoriesSpec configures the companion reconciler.
type OCIRepositoriesSpec struct {
	// Selector narrows the governed OCIRepositories by label. Without it,
	// every OCIRepository in a target namespace that verifies with the
	// generated Secret is governed.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Reverify says how the operator makes Flux re-verify after a trust
	// change: Force (default), RequestReconcile or None.
	// +kubebuilder:default=Force
	// +optional
	Reverify ReverifyMode `json:"reverify,omitempty"`

	// Verification switches operator-side verification with notation-go.
	// +kubebuilder:default=Enabled
	// +optional
	Verification VerificationMode `json:"verification,omitempty"`

	// Interval bounds how long a cached verification result is trusted:
	// revocation and expiry can change a result without any change here.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// HelmChartsSpec narrows the governed HelmCharts.
type HelmChartsSpec struct {
	// Selector narrows the governed HelmCharts by label. Without it, every
	// HelmChart in a target namespace that is built from an OCI
	// HelmRepository and verifies with the generated Secret is governed.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// RolloutSpec says how a changed trust configuration reaches the namespaces.
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || self.strategy != 'Staged' || (has(self.stages) && size(self.stages) > 0)",message="stages are required when the strategy is Staged"
type RolloutSpec struct {
	// Strategy is AllAtOnce (default) or Staged.
	// +kubebuilder:default=AllAtOnce
	// +optional
	Strategy RolloutStrategy `json:"strategy,omitempty"`

	// Preflight verifies every governed artifact against a new trust
	// configuration before writing it anywhere.
	// +optional
	Preflight bool `json:"preflight,omitempty"`

	// Stages are ordered namespace groups for the Staged strategy.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Stages []RolloutStage `json:"stages,omitempty"`
}

// RolloutStage is one group of namespaces in a staged rollout.
// +kubebuilder:validation:XValidation:rule="(has(self.namespaces) && size(self.namespaces) > 0) || has(self.namespaceSelector)",message="a stage needs namespaces or a namespaceSelector"
type RolloutStage struct {
	// Name of the stage.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Namespaces in this stage, by name.
	// +kubebuilder:validation:MaxItems=10000
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelector puts matching namespaces in this stage.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// VerificationPolicyStatus is the observed state of a VerificationPolicy.
type VerificationPolicyStatus struct {
	// ObservedGeneration is the last generation fully reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, SecretsSynced, ArtifactsVerified.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`

	// TrustDigest is the sha256 digest of the rendered Secret data.
	// +optional
	TrustDigest string `json:"trustDigest,omitempty"`

	// FluxFingerprint is the value source-controller v1.10+ records in
	// OCIRepository status.sourceVerificationFingerprint after verifying
	// with this data.
	// +optional
	FluxFingerprint string `json:"fluxFingerprint,omitempty"`

	// Certificates summarises every certificate in the rendered Secret.
	// +optional
	Certificates []CertificateStatus `json:"certificates,omitempty"`

	// Namespaces counts the target namespaces by outcome.
	// +optional
	Namespaces NamespaceCounts `json:"namespaces,omitempty"`

	// NamespaceIssues lists namespaces that are not synced (at most 20).
	// +kubebuilder:validation:MaxItems=20
	// +optional
	NamespaceIssues []NamespaceIssue `json:"namespaceIssues,omitempty"`

	// Artifacts counts every governed artifact (OCIRepositories and
	// HelmCharts) by outcome.
	// +optional
	Artifacts ArtifactCounts `json:"artifacts,omitempty"`

	// OCIRepositories counts the governed OCIRepositories by outcome.
	// +optional
	OCIRepositories ArtifactCounts `json:"ociRepositories,omitempty"`

	// HelmCharts counts the governed HelmCharts by outcome.
	// +optional
	HelmCharts ArtifactCounts `json:"helmCharts,omitempty"`

	// ArtifactIssues lists governed artifacts that do not verify, or whose
	// Flux verdict is stale (at most 20).
	// +kubebuilder:validation:MaxItems=20
	// +optional
	ArtifactIssues []ArtifactIssue `json:"artifactIssues,omitempty"`

	// Rollout is the state of a preflighted or staged rollout. It lives in
	// the cluster so a restarted manager resumes where it was.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`
}

// RolloutStageState is the state of one stage of a rollout.
// +kubebuilder:validation:Enum=Pending;Progressing;Verified;Forced;Failed
type RolloutStageState string

const (
	// StagePending: the stage keeps the previous configuration.
	StagePending RolloutStageState = "Pending"
	// StageProgressing: the stage holds the new configuration and its
	// artifacts are being verified.
	StageProgressing RolloutStageState = "Progressing"
	// StageVerified: every governed artifact of the stage verifies.
	StageVerified RolloutStageState = "Verified"
	// StageForced: some governed artifacts of the stage fail, and the
	// force-rollout annotation let the rollout go on; the message names them.
	StageForced RolloutStageState = "Forced"
	// StageFailed: an artifact of the stage fails; the rollout is held.
	StageFailed RolloutStageState = "Failed"
)

// PreflightState is the outcome of the preflight for the desired digest.
// +kubebuilder:validation:Enum=Passed;Failed;Forced
type PreflightState string

const (
	// PreflightPassed: no governed artifact that verifies today would fail.
	PreflightPassed PreflightState = "Passed"
	// PreflightFailed: some would; nothing is written.
	PreflightFailed PreflightState = "Failed"
	// PreflightForced: the force-rollout annotation accepted the breakage.
	PreflightForced PreflightState = "Forced"
)

// RolloutStatus is the state of the rollout of DesiredDigest.
type RolloutStatus struct {
	// DesiredDigest is the trust digest being rolled out.
	DesiredDigest string `json:"desiredDigest"`
	// StableDigest is the digest of the last configuration that reached
	// every stage; namespaces of stages not yet reached get it.
	// +optional
	StableDigest string `json:"stableDigest,omitempty"`
	// Preflight is the outcome of the preflight for DesiredDigest.
	// +optional
	Preflight PreflightState `json:"preflight,omitempty"`
	// Stages, in rollout order (Staged strategy only).
	// +kubebuilder:validation:MaxItems=17
	// +optional
	Stages []RolloutStageStatus `json:"stages,omitempty"`
}

// RolloutStageStatus is the state of one stage.
type RolloutStageStatus struct {
	// Name of the stage; the implicit last stage of targeted namespaces in
	// no stage is named "unstaged".
	Name string `json:"name"`
	// Namespaces is the number of targeted namespaces in the stage.
	// +optional
	Namespaces int32 `json:"namespaces"`
	// Digest is the trust digest applied to the stage's namespaces.
	// +optional
	Digest string `json:"digest,omitempty"`
	// State is Pending, Progressing, Verified, Forced or Failed.
	State RolloutStageState `json:"state"`
	// CompletedAt is when the stage was verified.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// Message explains the state, naming failing artifacts.
	// +optional
	Message string `json:"message,omitempty"`
}

// CertificateStatus summarises one certificate of the rendered Secret.
type CertificateStatus struct {
	// Key in the generated Secret.
	Key string `json:"key"`
	// Type is the trust store type of its source.
	Type CertificateType `json:"type"`
	// Source is the name of the certificate source it came from; for a
	// clusterTrustBundle source, followed by the bundle it came from:
	// "<name> (ClusterTrustBundle <bundle>)".
	Source string `json:"source"`
	// Subject distinguished name.
	Subject string `json:"subject"`
	// Issuer distinguished name.
	Issuer string `json:"issuer"`
	// NotBefore is the start of the validity period.
	NotBefore metav1.Time `json:"notBefore"`
	// NotAfter is the end of the validity period.
	NotAfter metav1.Time `json:"notAfter"`
	// SHA256 fingerprint of the DER certificate, hex encoded.
	SHA256 string `json:"sha256"`
}

// NamespaceCounts counts target namespaces by outcome.
type NamespaceCounts struct {
	// Targeted namespaces that exist and are not terminating.
	// +optional
	Targeted int32 `json:"targeted"`
	// Synced namespaces hold the current Secret.
	// +optional
	Synced int32 `json:"synced"`
	// Conflicted namespaces hold a Secret of the same name we do not own.
	// +optional
	Conflicted int32 `json:"conflicted"`
	// Failed namespaces could not be written.
	// +optional
	Failed int32 `json:"failed"`
	// Summary is "synced/targeted", for kubectl's printer column.
	// +optional
	Summary string `json:"summary,omitempty"`
}

// NamespaceIssue explains why one namespace is not synced.
type NamespaceIssue struct {
	Namespace string `json:"namespace"`
	Reason    string `json:"reason"`
	Message   string `json:"message"`
}

// ArtifactCounts counts governed artifacts by outcome.
type ArtifactCounts struct {
	// Matched artifacts are governed by this policy.
	// +optional
	Matched int32 `json:"matched"`
	// Verified by the operator against the current trust configuration.
	// +optional
	Verified int32 `json:"verified"`
	// Failed operator-side verification.
	// +optional
	Failed int32 `json:"failed"`
	// Pending verification (not yet run, or the registry did not answer).
	// +optional
	Pending int32 `json:"pending"`
	// FluxVerified: Flux reports a verification with the current fingerprint.
	// +optional
	FluxVerified int32 `json:"fluxVerified"`
	// FluxStale: Flux reports success that cannot be shown to be more recent
	// than the last trust change.
	// +optional
	FluxStale int32 `json:"fluxStale"`
	// ForcesInFlight: re-verifications forced on Flux (reverify: Force) whose
	// new verdict Flux has not reported yet.
	// +optional
	ForcesInFlight int32 `json:"forcesInFlight"`
}

// ArtifactIssue explains why one governed artifact does not verify.
type ArtifactIssue struct {
	// Kind is OCIRepository or HelmChart.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	Message   string `json:"message"`
}

// VerificationPolicy distributes one Notation trust configuration for Flux
// to many namespaces and reports whether the artifacts there still verify.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=vpol
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Namespaces",type=string,JSONPath=`.status.namespaces.summary`,description="synced/targeted"
// +kubebuilder:printcolumn:name="Verified",type=integer,JSONPath=`.status.artifacts.verified`,description="governed OCIRepositories and HelmCharts that verify"
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.artifacts.failed`,description="governed OCIRepositories and HelmCharts that fail"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type VerificationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VerificationPolicySpec   `json:"spec"`
	Status VerificationPolicyStatus `json:"status,omitempty"`
}

// VerificationPolicyList is a list of VerificationPolicy.
//
// +kubebuilder:object:root=true
type VerificationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VerificationPolicy `json:"items"`
}

// GetConditions returns the status conditions (fluxcd/pkg/runtime/conditions.Getter).
func (in *VerificationPolicy) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions sets the status conditions (fluxcd/pkg/runtime/conditions.Setter).
func (in *VerificationPolicy) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns the full resync period.
func (in *VerificationPolicy) GetRequeueAfter() time.Duration {
	if in.Spec.Interval == nil || in.Spec.Interval.Duration <= 0 {
		return time.Hour
	}
	return in.Spec.Interval.Duration
}

// SecretName returns the generated Secret's name, defaulted.
func (in *VerificationPolicy) SecretName() string {
	if in.Spec.Target.SecretName == "" {
		return DefaultSecretName
	}
	return in.Spec.Target.SecretName
}

func init() {
	SchemeBuilder.Register(&VerificationPolicy{}, &VerificationPolicyList{})
}
