#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and no network (the device tool's
# machines: their image's python3 holds torch and torchvision). Nothing is downloaded
# there: the `av` wheel uv.lock pins for that Python is carried in .gpu-wheels/
# (made here by benchmarks/gpu_wheels.sh) and installed with --no-index. It checks
# that the CUDA driver and NVDEC's library load, runs the GPU tests (tests/media/test_gpu.py
# -k on_the_gpu, and the pixel path's tests in tests/media/) and the GPU benchmark.
# About 4-6 minutes; run from anywhere in the repository. PYTHON picks another
# interpreter; BENCH_FILES sizes the benchmark (16).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$py" - <<'PY'
import ctypes
for name in ("libcuda.so.1", "libnvcuvid.so.1"):  # the driver, NVDEC (cuvid)
    try:
        ctypes.CDLL(name)
    except OSError as e:
        raise SystemExit(f"{name} does not load: {e}") from None
    print("loads:", name)
PY
site=/tmp/vidray-gpu-site
if ! "$py" -c "import av" 2>/dev/null; then
    if ! ls .gpu-wheels/av-*.whl >/dev/null 2>&1; then
        echo "no av here and no .gpu-wheels/av-*.whl: run benchmarks/gpu_wheels.sh, carry .gpu-wheels" >&2
        exit 1
    fi
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" .gpu-wheels/*.whl
fi
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$py" - <<'PY'
import importlib.util

need = ["torch", "torchvision", "av", "numpy", "PIL", "pyarrow", "fsspec", "pytest"]
missing = [m for m in need if importlib.util.find_spec(m) is None]
if missing:
    raise SystemExit(f"missing here: {', '.join(missing)} (carry their wheels in .gpu-wheels)")
import av
import torch
from av.codec.hwaccel import hwdevices_available

assert torch.cuda.is_available(), "torch sees no GPU"
print("torch", torch.__version__, torch.cuda.get_device_name(0), "| av", av.__version__,
      "| hw devices", hwdevices_available())
assert "cuda" in hwdevices_available(), "this PyAV's FFmpeg has no CUDA hwaccel"
PY
# --noconftest: the GPU tests need neither Ray nor the S3 server the conftest starts.
"$py" -m pytest -q -rs -p no:cacheprovider --noconftest tests/media/test_gpu.py -k on_the_gpu
"$py" -m pytest -q -p no:cacheprovider --noconftest tests/media/test_nvdec_cpu.py
"$py" benchmarks/bench_gpu.py --files "${BENCH_FILES:-16}"
