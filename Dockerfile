# Minimal two-stage image; the hardened build (cached dependency layer,
# distroless runtime, healthcheck) comes with the service-operations work.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/campaign-watcher --create-home watcher
COPY --from=build /src/target/release/campaign-watcher /usr/local/bin/campaign-watcher
USER watcher
WORKDIR /var/lib/campaign-watcher
ENV CAMPAIGN_WATCHER_CONFIG=/etc/campaign-watcher/campaign-watcher.toml
ENTRYPOINT ["/usr/local/bin/campaign-watcher"]
CMD ["run"]
