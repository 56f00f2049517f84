"""Every registered source answers the whole ``Source`` interface, so that the driver
never needs to know which kind of source it holds; an annotation source and a shard
source give the answers their layouts call for on real fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.datasets import builders
from vidray import sources
from vidray.io import storage
from vidray.sources.annotations import AnnotationSource
from vidray.sources.base import Source, SourceContext

MEDIA = {"video", "frames", "image"}


@pytest.mark.parametrize("name", sorted(sources.REGISTRY))
def test_every_source_answers_the_interface(name: str, tmp_path: Path):
    cls = sources.REGISTRY[name]
    src = cls(SourceContext())
    loc = storage.location(str(tmp_path))
    assert src.media in MEDIA
    assert src.frames_fps is None or src.frames_fps > 0
    splits = cls.split_names()
    assert all(isinstance(s, str) and s for s in splits)
    if src.media_in_shards:
        # Media inside the shards: no splits, no videos folder, no lookup table.
        assert splits == () and cls.default_split is None and src.split() is None
        assert src.videos_location(loc) is None
        assert src.video_index(loc) is None
        with pytest.raises(TypeError, match="builds no video index"):
            src.use_video_index({})
    else:
        assert cls.default_split in splits and src.split() == cls.default_split
        videos = src.videos_location(loc)
        assert isinstance(videos, storage.Location)
        assert videos.uri.startswith(loc.uri) or videos.uri == loc.uri
        assert src.video_index(loc) in (None, {})  # an empty folder: nothing to index
    assert src.skipped_units(loc) == []


def test_frames_sources_say_their_rate():
    for cls in sources.REGISTRY.values():
        if cls.media == "frames":
            assert cls.frames_fps, cls.name


def _fixture(name: str, root: Path) -> tuple[Source, storage.Location, list[str]]:
    expected = builders()[name](root)
    options = expected.options
    ctx = SourceContext.of(
        videos=str(root / options["videos"]) if "videos" in options else None,
        split=options.get("split"),
    )
    return sources.get(name, ctx), storage.location(str(root)), expected.skipped


def test_annotation_source_on_its_fixture(tmp_path: Path):
    src, loc, skipped = _fixture("videochat2", tmp_path)
    assert isinstance(src, AnnotationSource)
    assert not src.media_in_shards and src.split() == "train"
    videos = src.videos_location(loc)
    assert videos is not None and videos.fs.isdir(videos.path)
    assert skipped and src.skipped_units(loc) == skipped


def test_annotation_source_builds_and_takes_a_video_index(tmp_path: Path):
    src, loc, _ = _fixture("activitynet-qa", tmp_path)
    index = src.video_index(loc)
    assert index, "activitynet-qa finds its videos by stem: the table lists them"
    videos = src.videos_location(loc)
    assert videos is not None
    for rel in index.values():
        assert (Path(videos.path) / rel).is_file()
    fresh = sources.get("activitynet-qa", src.ctx)
    fresh.use_video_index({})  # an empty table taken: every video is then missing
    unit = fresh.units(loc)[0]
    found = [s for s in src.samples(loc, unit) if not s.error]
    assert found, "with the real table some videos are found"
    questions = {c.id for s in found for c in s.conversations}
    missing = {
        c.id
        for s in fresh.samples(loc, unit)
        if s.error and s.error[0] == "missing_video"
        for c in s.conversations
    }
    assert questions <= missing


def test_shard_source_on_its_fixture(webvid_dir: Path):
    src = sources.get("webvid")
    loc = storage.location(str(webvid_dir))
    assert src.media_in_shards and src.media == "video"
    assert src.units(loc) and src.skipped_units(loc) == []
    assert src.videos_location(loc) is None and src.video_index(loc) is None
    assert src.split() is None and src.split_names() == ()
