# palisade-webhook. Build from the repository root:
#   docker build -f images/webhook.Dockerfile -t palisade-webhook:0.1.0 .
# (README.md here: podman/buildah, and what the build host needs.)

ARG DEBIAN_RELEASE=bookworm

# --- build: the same toolchain and libraries as a development machine -------
# This stage is the same, instruction for instruction, in enforcer.Dockerfile:
# a builder with a layer cache (Docker, `buildah bud --layers`) then compiles
# the project once for both images. images/tests/images_test.sh fails if the
# two stages drift apart.
FROM debian:${DEBIAN_RELEASE} AS build
# The dependency list alone first, so that the package layer is reused until
# the list changes.
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
# The whole project is configured, enforcer included, so the build host's
# kernel must have BTF at /sys/kernel/btf/vmlinux. Only the two binaries are
# built; the build tree is dropped in the same step to keep the layer small.
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DPALISADE_BUILD_TESTS=OFF -DPALISADE_BUILD_BENCHMARKS=OFF \
    && cmake --build /build --target palisade-webhook palisade-enforcer \
    && mkdir /out \
    && strip -o /out/palisade-webhook /build/bin/palisade-webhook \
    && strip -o /out/palisade-enforcer /build/bin/palisade-enforcer \
    && rm -rf /build

# --- runtime: the binary and the shared libraries it links, nothing else ----
FROM debian:${DEBIAN_RELEASE}-slim
# `ldd build/bin/palisade-webhook`: libc, libm, libgcc_s and libstdc++ are in
# the base image; these are the rest.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libfmt9 libmimalloc2.0 libsimdjson14 libspdlog1.10 libssl3 libstdc++6 libyaml-cpp0.7 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/palisade-webhook /usr/local/bin/palisade-webhook
# Fails the build if a library the binary needs is missing.
RUN ! ldd /usr/local/bin/palisade-webhook | grep 'not found'
# Non-root: the chart runs it as 65532 with a read-only root filesystem and
# no capabilities; the webhook needs none (it listens on 8443, not 443).
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/palisade-webhook"]
CMD ["--help"]
