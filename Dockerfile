# llama-server with OpenTelemetry (`--features otel`), as used by observability/docker-compose.yaml.
#
#   docker build -t llama-rs/llama-server:0.1.0 .
#   docker run --rm -p 8080:8080 -v "$PWD/models:/models:ro" llama-rs/llama-server:0.1.0 \
#       --host 0.0.0.0 -m /models/SmolLM2-135M-Instruct.Q4_1.gguf
#
# Two stages: a full Rust toolchain builds the binary; the runtime image is debian-slim with
# only the C/C++ runtime libraries ggml needs, running as an unprivileged user. No model is baked
# in: mount one read-only at /models.

# ---------------------------------------------------------------------------- build stage
# The workspace's rust-version (MSRV); on Debian 12 like the runtime stage, so glibc matches.
FROM rust:1.87.0-bookworm AS build
WORKDIR /src
# Cargo features. `ggml-sys/portable` compiles ggml for a baseline CPU instead of
# `-march=native`, so the image runs on other machines than the one that built it; drop it for
# a faster image tied to this CPU. `-p ggml-sys` below is what lets the command line name it.
ARG FEATURES=llama-server/otel,ggml-sys/portable
COPY . .
# The cache mounts keep downloaded crates and compiled dependencies between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p llama-server -p ggml-sys --features "$FEATURES" \
 && cp target/release/llama-server /usr/local/bin/llama-server

# -------------------------------------------------------------------------- runtime stage
FROM debian:12.8-slim
# libgomp1: ggml's OpenMP thread pool; libstdc++6 and libgcc-s1: the C++ parts of ggml.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libstdc++6 libgcc-s1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin llama
COPY --from=build /usr/local/bin/llama-server /usr/local/bin/llama-server
USER 10001:10001
ENV OTEL_SERVICE_NAME=llama-server
EXPOSE 8080
# /health answers 200 once the model is loaded; no curl here, so bash's /dev/tcp does the request.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=60 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/llama-server"]
CMD ["--host", "0.0.0.0", "--port", "8080", "--model", "/models/SmolLM2-135M-Instruct.Q4_1.gguf"]
