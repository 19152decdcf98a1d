# Builds the `sluice` binary on Debian 12 and ships it with its runtime libraries.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
    && ninja -C /build sluice

FROM debian:12-slim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       libpistache0 librdkafka1 libyaml-cpp0.7 libssl3 git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/sluice /usr/local/bin/sluice
COPY config /etc/sluice
ENTRYPOINT ["/usr/local/bin/sluice"]
