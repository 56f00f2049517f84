#!/usr/bin/env bash
# The wheels benchmarks/gpu_check.sh installs on a GPU machine that reaches no
# network, downloaded here into .gpu-wheels/ (git-ignored) to be carried there: the
# `av` wheel uv.lock pins for that machine's Python (3.12 unless PYTHON_VERSION says
# otherwise), checked against the lock's sha256. Everything else the GPU tests and
# the benchmark import (torch, torchvision, numpy, pillow, pyarrow, fsspec, pytest)
# is in that machine's image.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON_VERSION:-3.12}"
tag="cp${py/./}"
mkdir -p .gpu-wheels
rm -f .gpu-wheels/*.whl
# The av wheel the lock pins for this Python on x86-64 Linux (abi3: the lowest tag at
# or below it), with its hash.
read -r url sha < <(python3 - "$py" <<'PY'
import re, sys, tomllib
py = tuple(int(x) for x in sys.argv[1].split("."))
lock = tomllib.load(open("uv.lock", "rb"))


def holds(marker, py):
    """The marker's python_full_version bounds hold for ``py`` (platform: linux)."""
    if "sys_platform == 'win32'" in marker or "sys_platform == 'emscripten'" in marker:
        return False
    for op, minor in re.findall(r"python_full_version (>=|<) '3\.(\d+)'", marker):
        if (op == ">=" and py < (3, int(minor))) or (op == "<" and py >= (3, int(minor))):
            return False
    return True

best = None
for pkg in lock["package"]:
    if pkg["name"] != "av":
        continue
    for w in pkg.get("wheels", []):
        m = re.search(r"-cp3(\d+)-abi3-manylinux_2_\d+_x86_64\.whl$", w["url"])
        if m and (3, int(m.group(1))) <= py and any(
            holds(marker, py) for marker in pkg.get("resolution-markers", ["true"])
        ):
            best = (w["url"], w["hash"].split(":", 1)[1])
if best is None:
    sys.exit(f"uv.lock pins no av wheel for Python {sys.argv[1]} on x86-64 Linux")
print(*best)
PY
)
name="${url##*/}"
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$py" \
    --implementation cp --platform manylinux_2_28_x86_64 -d .gpu-wheels \
    "av==$(echo "$name" | cut -d- -f2)"
test -f ".gpu-wheels/$name" || { echo "pip fetched another wheel than $name" >&2; exit 1; }
echo "$sha  .gpu-wheels/$name" | sha256sum -c --quiet
ls -l .gpu-wheels
