"""`ray job submit` against the session's head node, token authentication on."""

import os
import subprocess
import sys
import time
from pathlib import Path

from vidray import output as vout
from vidray.io import storage

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).parent / "ray")


def ray_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RAY, *args], capture_output=True, text=True, timeout=400, env=env, cwd=REPO
    )


def _dashboard_log_tail(temp_dir: Path) -> str:
    """The job server's own account, for a failure that would otherwise say only
    "try again later"."""
    logs = sorted(Path(temp_dir).glob("session_*/logs/dashboard.log"))
    return "\n--- dashboard.log ---\n" + logs[-1].read_text()[-4000:] if logs else ""


def test_job_submit_converts(ray_head, webvid_dir, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "RAY_ADDRESS": ray_head["dashboard"]}
    args = [
        "job", "submit", "--working-dir", ".", "--",
        "python", "jobs/convert.py", "webvid", str(webvid_dir), str(out),
        "--size", "48", "--num-workers", "1",
    ]  # fmt: skip
    deadline = time.monotonic() + 180
    while True:
        res = ray_cli(*args, env=env)
        # A fresh head's job agent can take a while to register on a loaded machine;
        # the server then asks to try again later.
        busy = "No available agent to submit job" in res.stdout + res.stderr
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert res.returncode == 0, (
        res.stdout[-3000:] + res.stderr[-3000:] + _dashboard_log_tail(ray_head["temp_dir"])
    )
    assert "10 samples -> 9 rows" in res.stdout
    manifest = vout.read_manifest(storage.location(str(out)))
    assert manifest["counts"]["rows"] == 9 and manifest["counts"]["errors"] == 1
    # nothing secret travels in the job's arguments or output
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in res.stdout + res.stderr
    assert os.environ["RAY_AUTH_TOKEN"] not in res.stdout + res.stderr
    # nor in the job's metadata as the job API reports it
    jobs = ray_cli("job", "list", env=env)
    assert jobs.returncode == 0 and "jobs/convert.py" in jobs.stdout
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in jobs.stdout + jobs.stderr


def test_job_api_refuses_a_client_without_the_token(ray_head):
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN"}
    env.update(RAY_ADDRESS=ray_head["dashboard"], RAY_AUTH_TOKEN="0" * 64)
    res = ray_cli("job", "list", env=env)
    assert res.returncode != 0


def test_nothing_shipped_turns_token_auth_off():
    shipped = [*REPO.joinpath("cluster").rglob("*"), *REPO.joinpath("jobs").rglob("*")]
    texts = [p.read_text() for p in shipped if p.is_file()]
    assert texts
    for text in texts:
        assert "RAY_AUTH_MODE=disabled" not in text.replace(" ", "")
        assert "mode: disabled" not in text
