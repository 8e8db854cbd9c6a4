#!/usr/bin/env bash
# moodtape's GPU benches beside the peer (PyTorch sentence-transformers), in one run on one machine: embedding and
# whole-song analysis in f32 and fast (bf16), at two batch sizes, and every eval score in both precisions.
#
#   scripts/bench-gpu.sh [OUT_DIR]
#
# Needs a binary built by scripts/build-cuda.sh (BIN, default target/cuda/release/moodtape), the model in
# moodtape's cache or MOODTAPE_MODEL_DIR, and for the evals the datasets in DATASETS (default ../shared/datasets).
# The peer runs when python3 can import torch and sentence_transformers.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/cuda/release/moodtape}
out=${1:-target/gpu-bench}
datasets=${DATASETS:-../shared/datasets}
songs=${SONGS:-20000}
texts=${TEXTS:-20000}
mkdir -p "$out"

# cuBLAS and cuRAND: the driver's CUDA install, else the NVIDIA wheels of a PyTorch install.
if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so'; then
    for lib in libcublas.so libcurand.so; do
        found=$(find / -xdev \( -name "$lib.*" -o -name "$lib" \) -path '*nvidia*' 2>/dev/null | sort | tail -1)
        [[ -n "$found" ]] && LD_LIBRARY_PATH="$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    done
    export LD_LIBRARY_PATH
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
nproc | sed 's/^/cpu cores: /' | tee -a "$out/gpu.txt"
"$bin" --device cuda models info | tee "$out/models-info.txt"

"$bin" bench texts --kind stanza --count "$texts" --seed 1 --out "$out/stanzas.jsonl"
run() { # name, command...
    local name=$1; shift
    echo "== $name" >&2
    "$@" > "$out/$name.json" 2> "$out/$name.err" || echo "$name failed: $(tail -3 "$out/$name.err")" >&2
    cat "$out/$name.json"
}
for p in f32 fast; do
    for b in 256 1024; do
        run "embed-$p-b$b" "$bin" --device cuda --precision "$p" bench embed --texts "$out/stanzas.jsonl" \
            --batch "$b" --json
    done
    run "analyze-$p" "$bin" --device cuda --precision "$p" bench analyze --songs "$songs" --json
done
if python3 -c 'import torch, sentence_transformers' 2>/dev/null; then
    model=${MOODTAPE_MODEL_DIR:-$("$bin" models info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dir"])')}
    for p in f32 bf16; do
        run "peer-$p" python3 benches/peer/embed.py --texts "$out/stanzas.jsonl" --model "$model" \
            --device cuda --batch 256 --precision "$p"
    done
fi
for p in f32 fast; do
    if [[ -d "$datasets" ]]; then
        run "eval-goemotions-$p" "$bin" --device cuda --precision "$p" eval goemotions --split test \
            --data "$datasets/goemotions" --json
        run "eval-emobank-$p" "$bin" --device cuda --precision "$p" eval emobank --split test \
            --data "$datasets/emobank" --json
        run "eval-musicmood-$p" "$bin" --device cuda --precision "$p" eval musicmood --split dev \
            --data "$datasets/musicmood" --json
    fi
    run "eval-moods-$p" "$bin" --device cuda --precision "$p" eval moods --split test --json
    run "eval-demo-$p" "$bin" --device cuda --precision "$p" eval demo --json
done
echo "results in $out" >&2
