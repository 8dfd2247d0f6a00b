# campaign-watcher container image.
#
#   docker build -t campaign-watcher .
#   docker run --rm --read-only \
#       -v "$PWD/campaign-watcher.toml:/etc/campaign-watcher/campaign-watcher.toml:ro" \
#       -v cw-state:/var/lib/campaign-watcher -e SIGMAMIND_API_KEY -p 9464:9464 campaign-watcher
#
# The config must set [http] listen = "0.0.0.0:9464" for probes and scrapes
# from outside the container. State (SQLite) lives in /var/lib/campaign-watcher.
# docs/container.md has the full run command (credentials, healthcheck).
#
# Build arguments, for builders that cannot pull the default bases (the CI
# test in tests/it/image.rs overrides all three; defaults are what users get):
#   RUST_IMAGE     the build stage's base (needs cargo and crates.io)
#   RUNTIME_IMAGE  the runtime base (glibc, libgcc, CA certificates)
#   BINARY_STAGE   "build" compiles here; "prebuilt" takes the binary from
#                  the build context instead (see the prebuilt stage; built
#                  on a bookworm host, so its glibc matches the runtime)
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARY_STAGE=build

# --- build: dependencies first, in their own cached layer ------------------
# bookworm to match the glibc of the distroless cc-debian12 runtime below.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Only the manifests: this layer (every dependency compiled) is rebuilt only
# when Cargo.toml or Cargo.lock change, not on every source edit.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/cycle.rs \
 && cargo build --release --locked \
 && rm -rf src benches
COPY src ./src
COPY benches ./benches
# touch: the placeholder lib/main above are newer than a checked-out source tree.
# /out is the tree the runtime stage copies from, whichever stage made it.
RUN touch src/lib.rs src/main.rs \
 && cargo build --release --locked --bin campaign-watcher \
 && mkdir -p /out/usr/local/bin /out/var/lib/campaign-watcher /out/etc/campaign-watcher \
 && cp target/release/campaign-watcher /out/usr/local/bin/campaign-watcher

# --- prebuilt: the /out tree taken whole from the build context -------------
# Only built when BINARY_STAGE=prebuilt; the context then holds
# usr/local/bin/campaign-watcher and the empty var/lib/campaign-watcher and
# etc/campaign-watcher (scratch has no shell to make them).
FROM scratch AS prebuilt
COPY . /out/

FROM ${BINARY_STAGE} AS binary

# --- runtime: no shell, no package manager, uid 65532 ----------------------
FROM ${RUNTIME_IMAGE}
COPY --from=binary /out/usr/local/bin/campaign-watcher /usr/local/bin/campaign-watcher
# Owned by the runtime user: a fresh volume copies this directory's owner, and
# SQLite cannot create state.db (nor its -wal file) in a root-owned one.
COPY --from=binary --chown=65532:65532 /out/var/lib/campaign-watcher /var/lib/campaign-watcher
COPY --from=binary /out/etc/campaign-watcher /etc/campaign-watcher
USER 65532:65532
WORKDIR /var/lib/campaign-watcher
ENV CAMPAIGN_WATCHER_CONFIG=/etc/campaign-watcher/campaign-watcher.toml
VOLUME ["/var/lib/campaign-watcher"]
EXPOSE 9464
# Docker and compose: /healthz through the binary (no shell or curl here). It
# reads [http] listen from the config; 0.0.0.0 is asked over loopback.
# Kubernetes ignores this and uses the HTTP probes in deploy/kubernetes.
# Podman keeps it only in Docker-format images (podman build --format docker).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/campaign-watcher", "healthcheck"]
# Exec form: the binary is PID 1 and handles SIGTERM (drain, then exit) itself.
# Other commands: docker run --entrypoint /usr/local/bin/campaign-watcher IMAGE status
ENTRYPOINT ["/usr/local/bin/campaign-watcher", "run"]
