# syntax=docker/dockerfile:1
#
# Tollgate in a container: a static binary (no cgo: the SQLite driver is
# pure Go) on a distroless base, run as a non-root user, its data
# directory a volume. docs/deployment.md describes it and compose.yaml.
#
#   docker build -t tollgate --build-arg VERSION=v0.1.0 .
#   docker run -p 8080:8080 -v tollgate-data:/data tollgate

# The Go version go.mod's `go` line names.
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/tollgate-dev/tollgate/internal/buildinfo.version=${VERSION}" -o /out/tollgate ./cmd/tollgate
# The data directory, owned by the image's non-root user (65532), so a
# new volume mounted on it is writable.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tollgate /usr/local/bin/tollgate
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV TOLLGATE_DATA_DIR=/data \
    TOLLGATE_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve"]
