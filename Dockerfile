# sla-evaluator: build with the Rust toolchain, run on distroless as a non-root user.
#   docker build -t sla-evaluator:0.1.0 .
#   docker run --rm -p 50051:50051 -p 9090:9090 sla-evaluator:0.1.0

# --- build -----------------------------------------------------------------------------------
# Bookworm, like the runtime image: the binary links against the same glibc it will run with.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Dependencies first, in a layer of their own: a skeleton crate with the real manifest and lock
# file builds every dependency once, and a change to the code does not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
RUN mkdir -p src bench/sla-load \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > bench/sla-load/main.rs \
    && echo 'fn main() {}' > bench/engine.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src bench

COPY policies policies
COPY src src
COPY bench bench
# The same command CI runs (.ci/run), so what CI built is what ships. `touch` makes cargo see the
# real sources as newer than the skeleton's build.
RUN touch src/main.rs src/lib.rs bench/sla-load/main.rs \
    && cargo build --release --locked

# --- run -------------------------------------------------------------------------------------
# glibc, CA roots, a nonroot user (uid 65532, given by number so that Kubernetes can check
# runAsNonRoot) and nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
# OCI annotations (https://specs.opencontainers.org/image-spec/annotations/). The build passes what
# only it knows:
#   docker build --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" --build-arg SOURCE=<repository URL> .
# VERSION is the crate's version (tests/deploy.rs keeps them equal).
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="sla-evaluator" \
      org.opencontainers.image.description="Evaluates measured availability against SLA policies and computes the compensation owed (gRPC sla.v1.SlaEvaluator)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /src/target/release/sla-evaluator /usr/local/bin/sla-evaluator
USER 65532:65532
# gRPC (SLA_LISTEN), Prometheus metrics (SLA_METRICS_LISTEN), plaintext health for probes when
# TLS is on (SLA_HEALTH_LISTEN, not bound unless set).
EXPOSE 50051 9090 8081
ENV SLA_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/sla-evaluator"]
