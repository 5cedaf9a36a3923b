# The manager image: make docker-build, i.e.
#   docker build --build-arg VERSION=<version> --build-arg GIT_COMMIT=<sha> -t <image> .
# Needs BuildKit (the default builder of Docker 23+ and of buildx). Multi-arch:
#   docker buildx build --platform linux/amd64,linux/arm64 ...

# Build on the builder's own platform and cross-compile (CGO is off), so a
# multi-arch build does not run the Go compiler under emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# Stamped into the binary exactly as make build does it.
ARG VERSION=dev
ARG GIT_COMMIT=unknown

WORKDIR /workspace
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# .dockerignore keeps the context to the Go sources (and bundle/).
COPY . .
# The flags of make build (Makefile: build, GO_BUILD_FLAGS, LDFLAGS).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${GIT_COMMIT}" \
      -o /out/manager ./cmd

# Static binary, no shell, no package manager; runs as the distroless
# "nonroot" user. The numeric USER lets Kubernetes verify runAsNonRoot
# without resolving a name.
FROM gcr.io/distroless/static:nonroot
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
