# Builds the `sluice` binary on Debian 12 and ships it with its runtime libraries, all from
# Debian's packages. Used by compose.yaml (`docker compose up --build`).
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
    && ninja -C /build sluice

FROM debian:12-slim
# The shared libraries `sluice` links (libpistache, librdkafka, libyaml-cpp, libssl/libcrypto),
# git for jobs with `clone: true`, ca-certificates for TLS to Kafka and Git hosts, curl for the
# gateways' health check (GET /readyz).
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       libpistache0 librdkafka1 libyaml-cpp0.7 libssl3 git ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
# Jobs run as this user too. The directories exist in the image, owned by it, so that a named
# volume mounted on them starts out writable.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/sluice \
       --shell /usr/sbin/nologin sluice \
    && mkdir -p /var/lib/sluice/work /var/lib/sluice/artifacts \
    && chown -R sluice:sluice /var/lib/sluice
COPY --from=build /build/sluice /usr/local/bin/sluice
COPY config /etc/sluice
USER sluice
WORKDIR /var/lib/sluice
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["--help"]
