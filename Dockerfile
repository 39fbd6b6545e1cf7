# The echoes-labels image for GitLab CI jobs: a static binary on PATH, a
# shell for the job's script, CA certificates, a non-root user, and no
# ENTRYPOINT, so GitLab runs the job's script: through /bin/sh.
#
#   buildah bud --platform linux/arm64 --build-arg REVISION=0dfcaec -t echoes-labels .
#
# The Go stage runs on the build machine's platform and cross-compiles for
# the target's (GOARCH: no emulation); only the last stage is the target's.
# scripts/build-image.sh builds this same file for linux/amd64 and
# linux/arm64 and writes the multi-platform index, without a registry,
# with local stand-ins for the two base images passed as build args.
ARG GO_IMAGE=golang:1.26-alpine
ARG BASE_IMAGE=busybox:1.37-musl

FROM --platform=${BUILDPLATFORM} ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Set by buildah and BuildKit from --platform; empty (the build machine's)
# with a builder that sets neither.
ARG TARGETOS
ARG TARGETARCH
# The commit, which Go cannot read here (.dockerignore leaves .git out):
# --version prints "echoes-labels X.Y.Z (REVISION)", X.Y.Z from the source.
ARG REVISION=
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.revision=${REVISION}" -o /out/echoes-labels ./cmd/echoes-labels \
 && if [ "${TARGETARCH:-$(go env GOHOSTARCH)}" = "$(go env GOHOSTARCH)" ]; then /out/echoes-labels --version; fi

# --platform said again: buildah 1.28 (Debian 12) would otherwise look the
# base up for the build stage's platform.
FROM --platform=${TARGETPLATFORM} ${BASE_IMAGE}
ARG VERSION=
LABEL org.opencontainers.image.title="echoes-labels" \
      org.opencontainers.image.description="Fails a GitLab merge request pipeline when the merge request lacks its Echoes labels" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://gitlab.com/echoeshq/echoes-labels"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/echoes-labels /usr/local/bin/echoes-labels
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
USER 65532:65532
# `echoes-labels serve` listens here (ECHOES_LISTEN); the CI job listens nowhere.
EXPOSE 8080
CMD ["echoes-labels"]
