# palisade-enforcer. Build from the repository root:
#   docker build -f images/enforcer.Dockerfile -t palisade-enforcer:0.1.0 .
# (README.md here: podman/buildah, and what the build host needs.)

ARG DEBIAN_RELEASE=bookworm

# --- build -------------------------------------------------------------------
# The same, instruction for instruction, as in webhook.Dockerfile (comments
# there), so that a layer cache builds the project once for both images.
# The BPF programs are compiled against a vmlinux.h made from the build host's
# BTF (/sys/kernel/btf/vmlinux) and embedded in palisade-enforcer as a libbpf
# skeleton; CO-RE relocates them on each node's kernel at load time.
FROM debian:${DEBIAN_RELEASE} AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DPALISADE_BUILD_TESTS=OFF -DPALISADE_BUILD_BENCHMARKS=OFF \
    && cmake --build /build --target palisade-webhook palisade-enforcer \
    && mkdir /out \
    && strip -o /out/palisade-webhook /build/bin/palisade-webhook \
    && strip -o /out/palisade-enforcer /build/bin/palisade-enforcer \
    && rm -rf /build

# --- runtime -----------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim
# `ldd build/bin/palisade-enforcer`: libc, libm, libgcc_s and libz are in the
# base image; these are the rest (libssl3: the kube-apiserver client's TLS).
# coreutils (in the base image) gives the chart's readiness probe `test` and
# the uninstall mode's `sleep`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libbpf1 libelf1 libfmt9 libmnl0 libspdlog1.10 libssl3 libstdc++6 libyaml-cpp0.7 \
        zlib1g \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/palisade-enforcer /usr/local/bin/palisade-enforcer
RUN ! ldd /usr/local/bin/palisade-enforcer | grep 'not found'
# No USER: the enforcer runs as uid 0 because Kubernetes cannot give a
# non-root process capabilities (they are dropped at exec without ambient
# capabilities). The chart drops every capability but BPF, NET_ADMIN and
# PERFMON, sets no_new_privs and a read-only root filesystem, and never runs
# it privileged; charts/palisade/README.md explains each capability.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/palisade-enforcer"]
CMD ["--help"]
