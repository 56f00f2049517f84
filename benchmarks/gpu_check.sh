#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU (driver installed): install from the
# lock file with the gpu extra, run the GPU tests (they are skipped elsewhere), print
# the GPU benchmark. Takes a few minutes; run from anywhere in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m pip install --quiet --disable-pip-version-check uv
python3 -m uv sync --locked --extra gpu
python3 -m uv run --locked --extra gpu python -c \
    "import torch, av; assert torch.cuda.is_available(), 'torch sees no GPU'; \
     print('torch', torch.__version__, torch.cuda.get_device_name(0)); \
     print('hw devices', av.codec.hwaccel.hwdevices_available())"
python3 -m uv run --locked --extra gpu pytest -q tests/test_gpu.py -rs
python3 -m uv run --locked --extra gpu python benchmarks/bench_gpu.py --files "${FILES:-32}"
