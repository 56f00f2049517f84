"""``vidray report``: the page's content from a real conversion on the session's Ray
head node (charts read back through their tick labels, contact sheets byte for byte),
opened in a real headless Chromium (screenshot, console, every image decoded, every
chart laid out), plus the streaming parts (both layouts, old unit records), the SVG
charts and the sheets' frame choice without Ray."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.export.test_export import ROWS
from vidray import charts, report
from vidray import output as vout
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
  const charts = [...document.querySelectorAll("svg")].filter(s => {
    const r = s.getBoundingClientRect(); return r.width > 100 && r.height > 50; }).length;
  const pre = document.createElement("pre");
  pre.id = "vidray-check";
  pre.textContent = JSON.stringify({images: imgs.length, broken, charts,
                                    errors: window.__errors});
  document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="module")
def converted(ray_head, webvid_dir, tmp_path_factory) -> str:
    """One WebVid conversion (9 rows, one decode_error), 3 samples per unit."""
    out = tmp_path_factory.mktemp("report") / "out"
    opts = ConvertOptions.of(source="webvid", input=str(webvid_dir), output=str(out), size=48,
                          samples_per_file=3, progress=False)  # fmt: skip
    convert(opts)
    return str(out)


SVG = "{http://www.w3.org/2000/svg}"
#: The page's four charts, by title.
CHARTS = ["Frames per row", "Clip length (rows)", "Video duration (videos)", "Throughput over time"]


def near(value: float | tuple[float, ...]) -> object:
    """Equal to what is read off a chart (coordinates have 4 decimals)."""
    return pytest.approx(value, abs=1e-3)


def svgs(page: str) -> dict[str, ET.Element]:
    """The page's inline charts (each must be well-formed XML), by title."""
    found = [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", page, re.S)]
    return {svg.find(f"{SVG}title").text: svg for svg in found}


def axis(svg: ET.Element, name: str) -> Callable[[float], float]:
    """Pixel to value along the x or y axis, through its first and last tick labels (an
    axis with one tick: ``labelled_bars``)."""
    ticks = svg.findall(f".//{SVG}text[@class='{name}tick']")
    (p0, v0), (p1, v1) = [(float(t.get(name)), float(t.text)) for t in (ticks[0], ticks[-1])]
    return lambda p: v0 + (p - p0) * (v1 - v0) / (p1 - p0)


def _bars(svg: ET.Element) -> list[tuple[float, float, float]]:
    """Each bar: its left and right edges in pixels, its height read off the y axis."""
    y = axis(svg, "y")
    out = []
    for r in svg.findall(f"{SVG}rect[@class='bar']"):
        left, top, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
        assert y(top + h) == near(0)  # every bar stands on 0
        out.append((left, left + w, y(top)))
    return out


def bars(svg: ET.Element) -> list[tuple[float, float, float]]:
    """Each bar as read off the axes: (x start, x end, height)."""
    x = axis(svg, "x")
    return [(x(left), x(right), h) for left, right, h in _bars(svg)]


def labelled_bars(svg: ET.Element) -> dict[float, float]:
    """Each bar's height by the x tick label under its middle (one per bar)."""
    ticks = {float(t.get("x")): float(t.text) for t in svg.findall(f".//{SVG}text[@class='xtick']")}
    out = {}
    for left, right, h in _bars(svg):
        under = min(ticks, key=lambda p: abs(p - (left + right) / 2))
        assert under == near((left + right) / 2)
        out[ticks[under]] = h
    return out


def lines(svg: ET.Element) -> dict[str, list[tuple[float, float]]]:
    """Each polyline's points as read off the axes, by series name."""
    x, y = axis(svg, "x"), axis(svg, "y")
    return {
        p.get("data-name"): [(x(float(a)), y(float(b)))
                             for a, b in (pt.split(",") for pt in p.get("points").split())]
        for p in svg.findall(f"{SVG}polyline")
    }  # fmt: skip


def sheets(page: str) -> dict[str, list[tuple[bytes, str]]]:
    """Each sample's contact sheet: (frame bytes, caption) in page order, by row id."""
    found = re.findall(r'<div class="sample"><div><code>([^<]+)</code>.*?'
                       r'<div class="sheet">(.*?)</div>', page, re.S)  # fmt: skip
    figure = (r'<figure><img src="data:image/jpeg;base64,([^"]+)" alt="[^"]*">'
              r"<figcaption>([^<]*)</figcaption></figure>")  # fmt: skip
    return {
        html.unescape(rid): [(base64.b64decode(d), html.unescape(c))
                             for d, c in re.findall(figure, sheet)]
        for rid, sheet in found
    }  # fmt: skip


def assert_sheets(page: str, rows: list[dict]) -> None:
    """The sheets show these rows' frames exactly as stored, in time order, captioned by
    their timestamps (all of them: at most SHEET_FRAMES, under SHEET_BYTES)."""
    shown = sheets(page)
    assert list(shown) == [r["id"] for r in rows]
    for row in rows:
        by_time = sorted(zip(row["frame_timestamps"], row["frames"], strict=True))
        assert shown[row["id"]] == [(frame, f"{t:.2f} s") for t, frame in by_time]


def test_report_content(converted, tmp_path, capsys):
    dest = tmp_path / "rep"
    assert main(["report", converted, str(dest)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {dest / 'index.html'}"
    page = (dest / "index.html").read_text()
    # counts per source and split; the error with its id and message
    assert re.search(r"<td>webvid</td><td>train</td><td class=\"n\">9</td><td class=\"n\">1", page)
    assert "decode_error" in page and CORRUPT in page
    # nothing but the page, nothing fetched, nothing drawn by a plotting library
    assert sorted(p.name for p in dest.iterdir()) == ["index.html"]
    assert 'src="http' not in page and "<link" not in page and "image/png" not in page
    # the sample is deterministic: the rows of smallest sha256(id), each with its frames
    # exactly as stored, captioned by their timestamps, and its conversation
    rows = vout.read_output(converted).to_pylist()
    want = sorted(rows, key=lambda r: report._id_rank(r["id"]))[: report.SAMPLE_ROWS]
    assert_sheets(page, want)
    for row in want:
        assert html.escape(row["conversations"][1]["value"]) in page
    # the charts, read back through their axes' tick labels
    found = svgs(page)
    assert list(found) == CHARTS
    frames = Counter(len(r["frames"]) for r in rows)
    assert labelled_bars(found["Frames per row"]) == {n: near(c) for n, c in frames.items()}
    tally = report.tally_rows(rows, "train")  # its counting is checked without Ray below
    for title, counts in [("Clip length (rows)", tally.clip_length),
                          ("Video duration (videos)", tally.video_duration)]:  # fmt: skip
        read = bars(found[title])
        assert sum(h for _, _, h in read) == near(counts.total())
        assert (read[0][0], read[-1][1]) == near((min(counts), max(counts)))
    assert main(["report", converted, str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "index.html").read_text() == page
    # throughput from the unit records' commit times: cumulative samples and rows
    units = vout.committed_units(storage.location(converted)).values()
    assert all(u.committed_at for u in units)
    assert f"{len(units)} of {len(units)} units timed" in page
    times = sorted(u.committed_at for u in units)
    drawn = lines(found["Throughput over time"])
    assert list(drawn) == ["samples", "rows"]
    for name, total in [("samples", sum(u.samples for u in units)), ("rows", len(rows))]:
        assert drawn[name][0][0] == near(0)
        assert drawn[name][-1] == near((times[-1] - times[0], total))


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={cwd / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[k : k + 2], 16) for k in (1, 3, 5))


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
        colors = {rgb: n for n, rgb in img.convert("RGB").getcolors(1200 * 3000)}
    assert len(colors) > 20  # not a blank page
    # the charts' bars and the throughput's second line were painted
    assert colors.get(rgb(charts.BAR_COLOR), 0) > 10_000
    assert colors.get(rgb(charts.LINE_COLORS[1]), 0) > 100
    verdict = browser_check(page, tmp_path)
    shown = sheets(page.read_text())
    frames = sum(len(sheet) for sheet in shown.values())
    assert len(shown) == report.SAMPLE_ROWS and frames >= report.SAMPLE_ROWS
    assert verdict == {"images": frames, "broken": [], "charts": len(CHARTS), "errors": []}

    # the check itself sees a broken image and a script error
    bad = tmp_path / "bad" / "index.html"
    bad.parent.mkdir()
    bad.write_text('<html><head></head><body><img alt="x" src="data:image/jpeg;base64,AAAA">'
                   '<div hidden><svg width="400" height="300"></svg></div>'
                   "<script>undefinedCall()</script></body></html>")  # fmt: skip
    verdict = browser_check(bad, tmp_path)
    assert verdict["broken"] == ["x"] and verdict["charts"] == 0
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
    rows = list(vout.iter_rows(storage.location(str(root)), ["data/x.parquet"]))
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
    from tests.export.test_export import write_output

    local = write_output(tmp_path / "out", [ROWS[:3], ROWS[3:]])
    upload_dir(Path(local), s3_bucket, "out/report")
    page = report.report(f"s3://{s3_bucket}/out/report", str(tmp_path / "rep")).read_text()
    assert f"s3://{s3_bucket}/out/report" in page
    assert re.search(r"<td>demo</td><td>train</td><td class=\"n\">5</td>", page)
    assert list(svgs(page)) == CHARTS
    assert_sheets(page, sorted(ROWS, key=lambda r: report._id_rank(r["id"])))  # 5 < 6 rows
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in page


def test_report_refuses_what_is_no_output(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing"), str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidray: error:") and "does not exist" in err and err.count("\n") == 1
    assert main(["report", str(tmp_path), "s3://bucket/rep"]) == 2
    assert "local directory" in capsys.readouterr().err


def test_charts_read_back_their_data():
    """What a reader takes off the axes is the data; every text is escaped."""
    title = 'Odd <title> & "quotes"'
    given = [charts.Bar(1.5, 2.5, 3, "a<b"), charts.Bar(2.5, 3.5, 12, "c"),
             charts.Bar(7, 7.25, 1, "d")]  # fmt: skip
    svg = ET.fromstring(charts.bar_chart(given, title=title, xlabel="x & y", ylabel="<n>"))
    assert svg.find(f"{SVG}title").text == title
    assert bars(svg) == [near((b.x0, b.x1, b.value)) for b in given]
    assert [t.text for t in svg.iter(f"{SVG}title")][1:] == ["a<b", "c", "d"]
    assert [svg.find(f"{SVG}text[@class='{k}']").text for k in ("xlabel", "ylabel")] == [
        "x & y", "<n>"]  # fmt: skip
    ticks = [float(t.text) for t in svg.findall(f"{SVG}text[@class='ytick']")]
    assert ticks[0] == 0 and ticks[-1] >= 12 and all(t == int(t) for t in ticks)
    # explicit x ticks are where they say
    marked = ET.fromstring(charts.bar_chart(given, title="t", xlabel="x", ylabel="y",
                                            xticks=[2, 3, 7]))  # fmt: skip
    assert [t.text for t in marked.findall(f"{SVG}text[@class='xtick']")] == ["2", "3", "7"]
    assert bars(marked) == [near(b) for b in bars(svg)]
    # step lines: each value holds until the next time
    steps = charts.step_chart(
        [charts.Series("a & b", [(0, 2), (1.5, 5), (4, 9)]), charts.Series("c", [(0, 1)])],
        title="s",
        xlabel="t",
        ylabel="n",
    )
    drawn = lines(ET.fromstring(steps))
    assert drawn["a & b"] == [near(p) for p in [(0, 2), (1.5, 2), (1.5, 5), (4, 5), (4, 9)]]
    assert drawn["c"] == [near((0, 1))]


def test_histogram_bins():
    """Integer values: a bar per value, under its tick label; others: equal bins over
    their range, every count in one bar; one value alone: the bins span one unit around it."""
    svg = ET.fromstring(report.histogram(Counter({8: 9, 16: 2}), "Frames per row", "f",
                                         integer=True))  # fmt: skip
    assert bars(svg) == [near((7.6, 8.4, 9)), near((15.6, 16.4, 2))]
    assert labelled_bars(svg) == {8: near(9), 16: near(2)}
    counts = Counter({0.5: 3, 1.0: 1, 2.5: 4, 10.0: 2})
    read = bars(ET.fromstring(report.histogram(counts, "Clip length (rows)", "s")))
    assert [h for _, _, h in read] == near([4, 4, 2])  # 5 bins of 1.9 s
    assert [(a, b) for a, b, _ in read] == [near((0.5, 2.4)), near((2.4, 4.3)), near((8.1, 10))]
    read = bars(ET.fromstring(report.histogram(Counter({4.5: 7}), "Video duration", "s")))
    assert read == [near((4.4, 4.6, 7))]
    assert report.histogram(Counter(), "t", "x") is None


def test_sheet_frames_in_time_order_within_the_budget():
    stamps = [(7 * k) % 20 / 4 for k in range(20)]  # 20 frames stored out of time order
    row = {"frames": [bytes(1000 + k) for k in range(20)], "frame_timestamps": stamps}
    by_time = sorted(range(20), key=stamps.__getitem__)
    chosen = report.sheet_frames(row)
    assert len(chosen) == report.SHEET_FRAMES and chosen == sorted(chosen, key=stamps.__getitem__)
    assert (chosen[0], chosen[-1]) == (by_time[0], by_time[-1])  # the whole span
    small = report.sheet_frames(row, budget=5 * 1020)
    assert small == [by_time[k] for k in (0, 5, 10, 14, 19)]  # evenly, fewer, under budget
    assert sum(len(row["frames"][i]) for i in small) <= 5 * 1020
    assert report.sheet_frames(row, budget=10) == by_time[:1]  # one frame at least
    image = {"frames": [b"x", b"y"], "frame_timestamps": [], "id": "i"}
    assert report.sheet_frames(image) == [0, 1]
    assert [report.caption(image, i) for i in (0, 1)] == ["image 1", "image 2"]
    sheet = report.contact_sheet(image, [1])
    assert sheet.count("<img") == 1 and base64.b64encode(b"y").decode() in sheet
