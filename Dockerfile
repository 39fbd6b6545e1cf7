# The echoes-labels image for GitLab CI jobs: a static binary on PATH, a
# shell for the job's script, CA certificates, a non-root user, and no
# ENTRYPOINT, so GitLab runs the job's script: through /bin/sh.
#
#   buildah bud --build-arg VERSION=v1.2.3 -t echoes-labels .   (or docker build)
#
# scripts/build-image.sh builds this same file without a registry, with
# local stand-ins for the two base images passed as build args.
ARG GO_IMAGE=golang:1.26-alpine
ARG BASE_IMAGE=busybox:1.37-musl

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/echoes-labels ./cmd/echoes-labels \
 && /out/echoes-labels --version

FROM ${BASE_IMAGE}
ARG VERSION=dev
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
