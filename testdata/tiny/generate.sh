#!/usr/bin/env bash
# Regenerates testdata/tiny/*.json: llama.cpp's outputs for the tiny random-weight models.
#
#   1. `cargo xtask tiny-models` writes the GGUFs (byte-identical to what the tests write);
#   2. refgen.cpp is compiled against llama.cpp's libllama;
#   3. refgen runs each model (CPU, 2 threads, n_ctx 512, flash attention) and prints JSON;
#      again without flash attention (*-nofa.json), and phi3 with n_ctx 8192 (past its original
#      context: long RoPE factors).
#
# LLAMA_CPP: a llama.cpp checkout at commit 0c1e570 (the ggml vendored here) with libllama built
# in $LLAMA_CPP/build/bin (e.g. `cmake -B build && cmake --build build --target llama`); defaults
# to the PyPI sdist llama-cpp-python==0.3.36's vendor/llama.cpp next to this workspace.
# The GGUFs and the binary go to a temp dir; only the JSON files are written here.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
LLAMA_CPP="${LLAMA_CPP:-/work/sdist/llama_cpp_python-0.3.36/vendor/llama.cpp}"
lib="$LLAMA_CPP/build/bin"
[ -e "$lib/libllama.so" ] || [ -e "$lib/libllama.dylib" ] || {
    echo "generate.sh: no libllama in $lib (set LLAMA_CPP)" >&2
    exit 1
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$root" && cargo xtask tiny-models --out "$work/models")
"${CXX:-c++}" -O1 -std=c++17 -I"$LLAMA_CPP/include" -I"$LLAMA_CPP/ggml/include" \
    "$here/refgen.cpp" -o "$work/refgen" -L"$lib" -lllama -Wl,-rpath,"$lib"

# refgen OUT MODEL [N_CTX [nofa]]
refgen() {
    local out="$1" model="$2"
    shift 2
    "$work/refgen" "$work/models/tiny-$model.gguf" "$@" > "$here/$out.json.tmp"
    mv "$here/$out.json.tmp" "$here/$out.json"
    echo "wrote testdata/tiny/$out.json"
}
for model in qwen3 qwen3moe phi3 llama3; do
    refgen "$model" "$model"
    refgen "$model-nofa" "$model" 512 nofa
done
# phi3 beyond its original 4096-token context: LongRoPE's long factors apply.
refgen phi3-ctx8192 phi3 8192
