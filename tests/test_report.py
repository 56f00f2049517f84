"""``vidray report``: the page's content from a real conversion on the session's Ray
head node, opened in a real headless Chromium (screenshot, console, every image
decoded), plus the streaming parts (both layouts, old unit records) without Ray."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.test_export import ROWS
from vidray import report, sink
from vidray.cli import main
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.pipeline import convert
from vidray.records import UnitResult
from vidray.schema import CLIP_SCHEMA, flatten_clip_row

CORRUPT = "webvid:00000000.tar#1000074.mp4"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Injected at the top of a copy of the page: records script errors and console.error
#: calls, and once the page has loaded, whether every image decoded.
CHECK = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || e.type)), true);
const _error = console.error;
console.error = (...a) => { window.__errors.push(a.join(" ")); _error(...a); };
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const pre = document.createElement("pre");
  pre.id = "vidray-check";
  pre.textContent = JSON.stringify({images: imgs.length, broken, errors: window.__errors});
  document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="module")
def converted(ray_head, webvid_dir, tmp_path_factory) -> str:
    """One WebVid conversion (9 rows, one decode_error), 3 samples per unit."""
    out = tmp_path_factory.mktemp("report") / "out"
    opts = ConvertOptions(source="webvid", input=str(webvid_dir), output=str(out), size=48,
                          samples_per_file=3, progress=False)  # fmt: skip
    convert(opts)
    return str(out)


def data_uris(page: str) -> list[str]:
    return re.findall(r'src="data:image/png;base64,([^"]+)"', page)


def test_report_content(converted, tmp_path, capsys):
    dest = tmp_path / "rep"
    assert main(["report", converted, str(dest)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {dest / 'index.html'}"
    page = (dest / "index.html").read_text()
    # counts per source and split; the error with its id and message
    assert re.search(r"<td>webvid</td><td>train</td><td class=\"n\">9</td><td class=\"n\">1", page)
    assert "decode_error" in page and CORRUPT in page
    # every chart and contact sheet is a real PNG embedded in the page (no other file)
    uris = data_uris(page)
    assert len(uris) == 4 + report.SAMPLE_ROWS  # 3 histograms, throughput, 6 sheets
    for uri in uris:
        with Image.open(io.BytesIO(base64.b64decode(uri))) as img:
            assert img.format == "PNG" and img.width > 50 and img.height > 50
    assert sorted(p.name for p in dest.iterdir()) == ["index.html"]
    assert 'src="http' not in page and "<link" not in page
    # the sample is deterministic: the rows of smallest sha256(id), and the same page
    rows = sink.read_output(converted).to_pylist()
    want = sorted(rows, key=lambda r: report._id_rank(r["id"]))[: report.SAMPLE_ROWS]
    shown = re.findall(r'<div class="sample"><div><code>([^<]+)</code>', page)
    assert shown == [r["id"] for r in want]
    for row in want:  # each sheet's conversation (its frame times are drawn in the PNG)
        assert html.escape(row["conversations"][1]["value"]) in page
    assert main(["report", converted, str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "index.html").read_text() == page
    # throughput from the unit records' commit times
    units = sink.committed_units(storage.location(converted)).values()
    assert all(u.committed_at for u in units)
    assert f"{len(units)} of {len(units)} units timed" in page


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={cwd / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def browser_check(page: Path, tmp_path: Path) -> dict:
    """Load a copy of ``page`` with the check script and read its verdict from the DOM."""
    probe = tmp_path / f"probe-{page.parent.name}.html"
    probe.write_text(page.read_text().replace("<head>", "<head>" + CHECK, 1))
    run = chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri(), cwd=tmp_path)
    found = re.search(r'<pre id="vidray-check">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_opens_in_a_headless_browser(converted, tmp_path):
    dest = tmp_path / "rep"
    page = report.report(converted, str(dest))
    shot = tmp_path / "screenshot.png"
    run = chromium("--enable-logging=stderr", "--v=0", "--window-size=1200,3000",
                   f"--screenshot={shot}", page.as_uri(), cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    with Image.open(shot) as img:
        assert img.format == "PNG" and img.size == (1200, 3000)
        assert len(img.convert("L").getcolors(256 * 256) or []) > 20  # not a blank page
    verdict = browser_check(page, tmp_path)
    assert verdict == {"images": 4 + report.SAMPLE_ROWS, "broken": [], "errors": []}

    # the check itself sees a broken image and a script error
    bad = tmp_path / "bad" / "index.html"
    bad.parent.mkdir()
    bad.write_text('<html><head></head><body><img alt="x" src="data:image/png;base64,AAAA">'
                   "<script>undefinedCall()</script></body></html>")  # fmt: skip
    verdict = browser_check(bad, tmp_path)
    assert verdict["broken"] == ["x"]
    assert any("undefinedCall" in e for e in verdict["errors"])  # the failed image too


# --------------------------------------------------------------------------- no Ray


def test_report_reads_the_clips_layout(tmp_path):
    """A file of CLIP_SCHEMA rows is read as one row per question."""
    shared = {c: ROWS[1][c] for c in CLIP_SCHEMA.names if c in ROWS[1]}
    shared.update(label=None, classname=None)
    questions = [{"id": r["id"], "conversations": r["conversations"], "query": r["query"]}
                 for r in (ROWS[1], ROWS[4])]  # fmt: skip
    clip_row = {**shared, "clip_id": "demo:b.mp4@1.0-3.0", "questions": questions}
    root = tmp_path / "out"
    (root / "data").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist([clip_row], schema=CLIP_SCHEMA), root / "data" / "x.parquet"
    )
    rows = list(report.iter_rows(storage.location(str(root)), ["data/x.parquet"]))
    assert [r["id"] for r in rows] == ["demo:b:0", "demo:b:1"]
    assert rows == [{"video_duration": None, **r} for r in flatten_clip_row(clip_row)]
    tally = report.tally_rows(rows, "train")
    assert tally.rows == {("demo", "train"): 2} and tally.frames_per_row == {4: 2}
    assert tally.video_duration == {20.0: 1}  # one video, counted once
    assert tally.clip_length == {2.0: 2}


def test_unit_records_without_commit_times_still_report(tmp_path):
    old = {"unit": "u", "shard": "s", "index": 0, "last": True, "samples": 3, "rows": 3,
           "frames": 24, "errors": {}, "data_file": None, "error_file": None}  # fmt: skip
    unit = UnitResult.from_json(old)
    assert unit.committed_at is None
    uri, note = report.throughput([unit])
    assert uri is None and "no commit times" in note


def test_report_of_an_s3_output(tmp_path, s3_bucket):
    """The same counts from S3 (moto's server, no Ray), and no credential in the page."""
    import os

    from tests.conftest import upload_dir
    from tests.test_export import write_output

    local = write_output(tmp_path / "out", [ROWS[:3], ROWS[3:]])
    upload_dir(Path(local), s3_bucket, "out/report")
    page = report.report(f"s3://{s3_bucket}/out/report", str(tmp_path / "rep")).read_text()
    assert f"s3://{s3_bucket}/out/report" in page
    assert re.search(r"<td>demo</td><td>train</td><td class=\"n\">5</td>", page)
    assert len(data_uris(page)) == 4 + len(ROWS)  # 3 histograms, throughput, 5 sheets
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in page


def test_report_refuses_what_is_no_output(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing"), str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidray: error:") and "does not exist" in err and err.count("\n") == 1
    assert main(["report", str(tmp_path), "s3://bucket/rep"]) == 2
    assert "local directory" in capsys.readouterr().err
