"""Entrypoint for `ray job submit`; takes the same arguments as `vidray convert`.

    ray job submit --working-dir . -- python jobs/convert.py SOURCE INPUT OUTPUT [options]

The driver runs on the cluster and joins it through RAY_ADDRESS, which Ray sets for
submitted jobs. Storage credentials come from the nodes' AWS chain, never from here.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Use the vidray that was uploaded with --working-dir, even without an install.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vidray.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["convert", *sys.argv[1:]]))
