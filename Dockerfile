# campaign-watcher container image.
#
#   docker build -t campaign-watcher .
#   docker run --rm -v "$PWD/campaign-watcher.toml:/etc/campaign-watcher/campaign-watcher.toml:ro" \
#       -v cw-state:/var/lib/campaign-watcher -e SIGMAMIND_API_KEY -p 9464:9464 campaign-watcher
#
# The config must set [http] listen = "0.0.0.0:9464" for probes and scrapes
# from outside the container. State (SQLite) lives in /var/lib/campaign-watcher.

# --- build: dependencies first, in their own cached layer ------------------
# bookworm to match the glibc of the distroless cc-debian12 runtime below.
FROM rust:1-bookworm AS build
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
RUN touch src/lib.rs src/main.rs \
 && cargo build --release --locked --bin campaign-watcher \
 && mkdir -p /out/var/lib/campaign-watcher /out/etc/campaign-watcher

# --- runtime: no shell, no package manager, uid 65532 ----------------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/campaign-watcher /usr/local/bin/campaign-watcher
COPY --from=build --chown=65532:65532 /out/var/lib/campaign-watcher /var/lib/campaign-watcher
COPY --from=build /out/etc/campaign-watcher /etc/campaign-watcher
USER 65532:65532
WORKDIR /var/lib/campaign-watcher
ENV CAMPAIGN_WATCHER_CONFIG=/etc/campaign-watcher/campaign-watcher.toml
VOLUME ["/var/lib/campaign-watcher"]
EXPOSE 9464
# Docker and compose: /healthz through the binary (no shell or curl here). It
# reads [http] listen from the config; 0.0.0.0 is asked over loopback.
# Kubernetes ignores this and uses the HTTP probes in deploy/kubernetes.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/campaign-watcher", "healthcheck"]
# Exec form: the binary is PID 1 and handles SIGTERM (drain, then exit) itself.
# Other commands: docker run --entrypoint /usr/local/bin/campaign-watcher IMAGE status
ENTRYPOINT ["/usr/local/bin/campaign-watcher", "run"]
