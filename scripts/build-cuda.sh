#!/usr/bin/env bash
# Builds moodtape with `--features cuda` on any Linux x86-64 machine, with or without a GPU: the CUDA compiler and
# headers come from the Python package index into a venv, so no system CUDA toolkit is needed.
#
#   scripts/build-cuda.sh                 # -> target/cuda/release/moodtape
#   CUDA_COMPUTE_CAP=80 scripts/build-cuda.sh
#
# Settings (environment):
#   CUDA_SERIES       CUDA release series of the toolkit, default 13.0. Pick one no newer than the driver of the
#                     machine that will run the binary (`nvidia-smi` shows "CUDA Version"): the kernels are compiled
#                     to PTX, which a driver only runs when it is at least as new as the compiler.
#   CUDA_COMPUTE_CAP  the GPU generation the kernels are compiled for, default 90 (H100/H200); 80 for A100,
#                     89 for L4/RTX 40xx, 86 for RTX 30xx. Newer GPUs also run code built for an older one.
#   CUDA_VENV         where the venv goes, default target/cuda-venv.
#
# The binary opens the CUDA driver, cuBLAS and cuRAND when it first uses the GPU. Where they are not found (no
# driver, no GPU) it says why in one line and runs on the CPU. cuBLAS and cuRAND come with the NVIDIA driver's
# CUDA install or with PyTorch's wheels; if they live outside the linker's paths, point LD_LIBRARY_PATH at them:
#   LD_LIBRARY_PATH=$(scripts/build-cuda.sh --lib-dir) target/cuda/release/moodtape models info
set -euo pipefail
cd "$(dirname "$0")/.."

series=${CUDA_SERIES:-13.0}
major=${series%%.*}
venv=${CUDA_VENV:-target/cuda-venv}
python=${PYTHON:-python3}

site() { "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

if [[ ! -x "$venv/bin/pip" ]]; then
    "$python" -m venv "$venv"
fi
# Every package of the toolkit pinned to one series: a newer nvvm or crt than nvcc emits PTX an older driver
# refuses. cuBLAS and cuRAND are here for their headers and for running on this machine.
if [[ "$major" -ge 13 ]]; then suffix=""; else suffix="-cu$major"; fi
want=(
    "nvidia-cuda-nvcc$suffix==$series.*"
    "nvidia-cuda-runtime$suffix==$series.*"
    "nvidia-cuda-nvrtc$suffix==$series.*"
    "nvidia-cuda-cccl$suffix==$series.*"
    "nvidia-cublas$suffix==$major.*"
    "nvidia-curand$suffix"
)
if [[ "$major" -ge 13 ]]; then
    want+=("nvidia-nvvm==$series.*" "nvidia-cuda-crt==$series.*")
fi
root=$(site 2>/dev/null)/nvidia
if [[ "${1:-}" == "--lib-dir" ]]; then
    if [[ "$major" -ge 13 ]]; then echo "$root/cu$major/lib"; else
        ls -d "$root"/*/lib | paste -sd:; fi
    exit 0
fi
echo "build-cuda: CUDA $series toolkit into $venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "${want[@]}"
root=$(site)/nvidia
if [[ "$major" -ge 13 ]]; then
    cuda_root="$root/cu$major"
else
    # CUDA 12 wheels put each part in its own folder; gather them into one tree as a toolkit lays it out.
    cuda_root="$venv/cuda"
    mkdir -p "$cuda_root"/{bin,include,lib}
    for part in "$root"/*/; do
        for sub in bin include lib nvvm; do
            [[ -d "$part$sub" ]] && cp -rs "$part$sub/." "$cuda_root/$sub/" 2>/dev/null || true
        done
    done
fi
[[ -x "$cuda_root/bin/nvcc" ]] || { echo "build-cuda: no nvcc in $cuda_root/bin" >&2; exit 1; }

export CUDA_ROOT="$cuda_root" CUDA_PATH="$cuda_root" CUDA_HOME="$cuda_root"
export PATH="$cuda_root/bin:$PATH"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export LD_LIBRARY_PATH="$cuda_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# candle's kernels library asks for the CUDA runtime by name; offered only the static one, the linker takes it, so
# the binary needs no libcudart at run time and starts on machines without CUDA.
link_dir="$PWD/target/cuda-link"
mkdir -p "$link_dir"
ln -sf "$cuda_root/lib/libcudart_static.a" "$link_dir/libcudart.a"
export LIBRARY_PATH="$link_dir${LIBRARY_PATH:+:$LIBRARY_PATH}"
nvcc --version | tail -1 >&2
echo "build-cuda: kernels for compute capability $CUDA_COMPUTE_CAP" >&2
cargo build --release --features cuda --target-dir target/cuda "$@"
echo "build-cuda: built target/cuda/release/moodtape" >&2
