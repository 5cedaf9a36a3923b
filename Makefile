# verification-operator
#
# Everything here runs on a machine that has only Go: the envtest control
# plane is compiled from the module proxy (hack/setup-envtest.sh) and cached
# under bin/, and controller-gen is a pinned Go tool dependency (go.mod).

VERSION ?= 0.1.0
IMG ?= ghcr.io/flux-notation/verification-operator:v$(VERSION)
KUBE_VERSION ?= 1.36.1
ETCD_VERSION ?= 3.6.6
# The real Flux source-controller the tests and the demo run. Keep it equal
# to github.com/fluxcd/source-controller/api in go.mod: the Flux CRDs in
# test/crd/flux are generated from that module.
FLUX_SOURCE_CONTROLLER_VERSION ?= v1.9.3

BIN := $(CURDIR)/bin
ENVTEST_ASSETS := $(BIN)/k8s/$(KUBE_VERSION)
FLUX_ASSETS := $(BIN)/flux/$(FLUX_SOURCE_CONTROLLER_VERSION)
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(GIT_COMMIT)
# The same flags build bin/manager and the container image (Dockerfile).
GO_BUILD_FLAGS := -trimpath -ldflags "$(LDFLAGS)"
CONTROLLER_GEN := go tool controller-gen
# Tests that start control planes share 2 cores on CI machines; keep
# package-level parallelism modest so API servers do not starve each other.
TEST_PARALLEL ?= 2
TEST_TIMEOUT ?= 45m

export GOTOOLCHAIN := local

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: ## Generate the CRD and RBAC from controller-gen markers.
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role paths=./api/... paths=./controllers/... paths=./cmd/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(MAKE) --no-print-directory flux-crds

# Flux's source CRDs for tests and the demo (OCIRepository, HelmChart,
# HelmRepository and the kinds source-controller also watches), generated
# from the pinned Flux source API module's types, the one
# FLUX_SOURCE_CONTROLLER_VERSION is built from.
FLUX_CRD_DIR := test/crd/flux
.PHONY: flux-crds
flux-crds: ## Generate Flux's source CRDs used by tests into test/crd/flux.
	@api=$$(go list -m -f '{{.Version}}' github.com/fluxcd/source-controller/api); \
	if [ "$$api" != "$(FLUX_SOURCE_CONTROLLER_VERSION)" ]; then \
		echo "go.mod has github.com/fluxcd/source-controller/api $$api, the Makefile runs source-controller $(FLUX_SOURCE_CONTROLLER_VERSION): keep them equal" >&2; exit 1; fi
	@tmp=$$(mktemp -d) && $(CONTROLLER_GEN) crd paths=github.com/fluxcd/source-controller/api/v1 output:crd:dir=$$tmp && \
		rm -rf $(FLUX_CRD_DIR) && mkdir -p $(FLUX_CRD_DIR) && cp $$tmp/*.yaml $(FLUX_CRD_DIR)/ && rm -rf $$tmp

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -l -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: vet
vet: ## Run go vet, and fail on any file gofmt would change.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
		if [ -n "$$unformatted" ]; then echo "gofmt would change (run make fmt):"; echo "$$unformatted"; exit 1; fi
	@start=$$(date +%s); go vet ./... && echo "==> go vet took $$(( $$(date +%s) - start )) s"

.PHONY: envtest
envtest: $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd ## Build kube-apiserver and etcd for envtest (once, cached in bin/).

$(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd:
	@start=$$(date +%s); KUBE_VERSION=$(KUBE_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/setup-envtest.sh $(ENVTEST_ASSETS) && \
		echo "==> envtest binaries ready in $$(( $$(date +%s) - start )) s"

.PHONY: flux
flux: $(FLUX_ASSETS)/source-controller ## Build Flux's source-controller (once, cached in bin/).

$(FLUX_ASSETS)/source-controller:
	@start=$$(date +%s); FLUX_SOURCE_CONTROLLER_VERSION=$(FLUX_SOURCE_CONTROLLER_VERSION) hack/setup-flux.sh $(FLUX_ASSETS) && \
		echo "==> source-controller $(FLUX_SOURCE_CONTROLLER_VERSION) ready in $$(( $$(date +%s) - start )) s"

# Tests find the binaries through these two variables; a test that needs
# one and does not find it fails (it never skips).
TEST_ENV := KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) FLUX_SOURCE_CONTROLLER=$(FLUX_ASSETS)/source-controller

.PHONY: test
test: envtest flux vet ## Run every test against a real API server and the real Flux source-controller.
	@start=$$(date +%s); $(TEST_ENV) go test -v -p $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT) -count=1 ./...; rc=$$?; \
		echo "==> go test ./... took $$(( $$(date +%s) - start )) s"; exit $$rc

# test/e2e (part of ./...) builds bin/manager with the same flags as `build`
# (test/cluster/build.go; keep LDFLAGS in step) and runs it as its own process,
# as the ServiceAccount config/default binds, with only the shipped RBAC.
.PHONY: e2e
e2e: envtest flux ## Run only the end-to-end tests.
	$(TEST_ENV) go test -v -count=1 -timeout 20m ./test/e2e

.PHONY: demo
demo: envtest flux ## Run the operator's whole job, with the real Flux, on a local control plane (DEMO_KEEP=1 keeps it up).
	@$(TEST_ENV) go run ./hack/demo

.PHONY: fuzz
fuzz: ## Fuzz the trust configuration renderer for 60 s.
	go test ./controllers/trustconfig -run '^$$' -fuzz FuzzRender -fuzztime 60s

.PHONY: verify-generated
verify-generated: generate manifests bundle ## Fail if generated files differ from what is committed.
	@git add -N . && if ! git diff --exit-code --stat; then \
		echo "generated files are out of date: run 'make generate manifests bundle' and commit the result" >&2; exit 1; fi

##@ Build

.PHONY: build
build: ## Build bin/manager and bin/kubectl-vpol (the kubectl plugin).
	CGO_ENABLED=0 go build $(GO_BUILD_FLAGS) -o $(BIN)/manager ./cmd
	CGO_ENABLED=0 go build $(GO_BUILD_FLAGS) -o $(BIN)/kubectl-vpol ./cmd/kubectl-vpol

.PHONY: run
run: manifests ## Run the manager against the current kubeconfig.
	go run ./cmd --trust-namespace=$${TRUST_NAMESPACE:-verification-operator-system}

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) --build-arg GIT_COMMIT=$(GIT_COMMIT) -t $(IMG) .

##@ Benchmark

TRUST_MANAGER_VERSION ?= 0.25.0
TRUST_MANAGER := $(BIN)/trust-manager/$(TRUST_MANAGER_VERSION)/trust-manager

$(TRUST_MANAGER):
	TRUST_MANAGER_VERSION=$(TRUST_MANAGER_VERSION) hack/bench/build-trust-manager.sh $(dir $(TRUST_MANAGER))

.PHONY: bench
bench: envtest build $(TRUST_MANAGER) ## Measure against trust-manager and the API server's limit (~21 min, not in make test; writes test/bench/RESULTS.md).
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go run ./test/bench --manager=$(BIN)/manager \
		--trust-manager=$(TRUST_MANAGER) --trust-manager-version=v$(TRUST_MANAGER_VERSION) $(BENCH_ARGS)

.PHONY: bench-large
bench-large: envtest build ## The at-scale scenarios: 20 policies x 2,500 namespaces, restart, shared artifacts, growth (writes test/bench/RESULTS-large.md).
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go run ./test/bench --manager=$(BIN)/manager -profile=large $(BENCH_ARGS)

##@ Deployment

.PHONY: bundle
bundle: manifests ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/.
	go run ./hack/bundlegen --version $(VERSION) --image $(IMG) --output bundle

.PHONY: install
install: manifests ## Install the CRD into the current cluster.
	kubectl apply --server-side -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator into the current cluster.
	kubectl apply --server-side -k config/default

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
