"""EgoTaskQA: open questions on an interval of an egocentric (LEMMA) video."""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterable
from typing import Any

from vidray.io import storage
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation, SourceContext
from vidray.sources.text import answer_text, require
from vidray.sources.videos import MissingVideo

#: The two splittings of the release, each with its own train, val and test.
FAMILIES = ("direct", "indirect")
SPLITS = ("train", "val", "test")
#: LEMMA's frame rate: interval frames are indices at this rate.
FPS = 24.0
_INTERVAL = re.compile(r"(?P<video>[^|]+)\|P(?P<camera>\d+)\|(?P<start>\d+)\|(?P<end>\d+)")


class EgoTaskQA(AnnotationSource):
    """One row per question of one split file, with its short open ``answer``; the
    row's ``query`` is the question.

    Splits are ``<family>-<split>``: ``direct-{train,val,test}`` (the default is
    ``direct-train``) and ``indirect-{train,val,test}``. The release's
    ``preprocess/split.py`` writes ``direct/`` and ``indirect/`` as two alternative
    splittings of the same ``tagged_qas.json`` with shared global ``question_id``s
    (``indirect/train`` holds direct-reference questions that ``direct/test`` holds
    out), so a split reads exactly one file and never mixes the families: reading
    both would repeat questions and leak test questions into training. A
    ``question_id`` repeated within a file is a ``bad_annotation`` row, so no
    question comes out twice.

    ``video_id`` is an int (an index into ``vid_intervals.json``) and is not a file
    name; the video is named by ``interval``, ``"<video>|P<n>|<start>|<end>"``: frames
    ``[start, end)`` at 24 fps of camera ``P<n>``. The video is looked up, in order:

    - the LEMMA frame folder ``<video>/fpv<n>/img_%05d.jpg`` (the path the release's
      ``baselines/dataset/dataset.py`` reads; ``img_00001.jpg`` is frame 0), sampled
      inside the interval at 24 fps. The camera is kept: ``P2`` reads ``fpv2``;
    - (?) a clip cut to the interval, ``<interval>.mp4`` (``|`` in the file name),
      whole; or the full video ``<video>.mp4`` sampled inside the interval in frames
      of its stream. These mp4 layouts come from the recipe and are not confirmed by
      a primary file; give them with ``--videos`` (``INPUT/qa_videos`` is used when
      ``INPUT/videos`` does not exist);
    - else a ``missing_video`` row for the question.

    Frame folders are found by one shallow listing of the videos root and one of each
    video's folder; the mp4s, when needed, by one listing of the whole root. Keys are
    ``<family>/<split>:<question_id>``.
    """

    name = "egotaskqa"
    layout = (
        "INPUT/qa/{direct,indirect}/{train,val,test}_qas.json  [{question_id, question, "
        "answer, video_id (int), interval: '<video>|P<n>|<start>|<end>' (frames, 24 fps)}]; "
        "splits direct-{train,val,test}, indirect-{train,val,test}; videos: LEMMA frame "
        "folders INPUT/videos/<video>/fpv<n>/img_%05d.jpg, or (?, unconfirmed) "
        "<interval>.mp4 clips / <video>.mp4 under --videos (default INPUT/qa_videos)"
    )
    annotation_files = {
        f"{family}-{split}": (f"qa/{family}/{split}_qas.json",)
        for family in FAMILIES
        for split in SPLITS
    }
    default_split = "direct-train"
    videos_dir = "videos"
    videos_dir_fallbacks = ("qa_videos",)
    frames_fps = FPS

    def __init__(self, ctx: SourceContext | None = None) -> None:
        super().__init__(ctx)
        #: video folder -> its ``fpv<n>`` folders (None: the root listing not made yet).
        self._lemma: dict[str, set[str] | None] | None = None
        self._seen: dict[str, set[str]] = {}

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        qid = require(record, "question_id", (int, str))
        if isinstance(qid, bool):
            raise BadAnnotation(f"'question_id' is not an id: {qid!r}")
        video_id = require(record, "video_id", (int, str))
        if isinstance(video_id, bool):
            raise BadAnnotation(f"'video_id' is not an id: {video_id!r}")
        question = require(record, "question")
        answer = answer_text(record, "answer")
        interval = require(record, "interval")
        found = _INTERVAL.fullmatch(interval)
        if found is None:
            raise BadAnnotation(f"interval {interval!r} is not '<video>|P<n>|<start>|<end>'")
        # ``qa/direct/train_qas.json`` -> ``direct/train``
        family = posixpath.basename(posixpath.dirname(unit))
        split = posixpath.basename(unit).removesuffix("_qas.json")
        seen = self._seen.setdefault(unit, set())
        if str(qid) in seen:
            raise BadAnnotation(f"question_id {qid!r} appears twice in {unit}")
        seen.add(str(qid))
        video, camera = found["video"], found["camera"]
        yield Item(
            f"{family}/{split}:{qid}",
            f"{video}/fpv{camera}",
            ((question, answer),),
            question,
            span=(int(found["start"]), int(found["end"])),
            span_unit="frame",
            media="frames",
            # the mp4 layouts: the clip, then the full video
            names=(f"{interval}.mp4", f"{video}.mp4"),
        )

    def resolve(self, loc: storage.Location, item: Item) -> Item:
        video, fpv = item.video.split("/")
        if fpv in self._cameras(loc, video):
            return item
        clip_name, full_name = item.names
        clip = self.find_video(loc, [clip_name])
        if clip is not None:
            return dataclasses.replace(item, video=clip, span=None, span_unit="s", media="video")
        full = self.find_video(loc, [full_name])
        if full is not None:
            return dataclasses.replace(item, video=full, media="video")
        raise MissingVideo(
            item.video,
            f"no frame folder {item.video!r}/, clip {clip_name!r} or video {full_name!r}",
        )

    def _cameras(self, loc: storage.Location, video: str) -> set[str]:
        """The ``fpv<n>`` folders of LEMMA video ``video``: shallow listings only, each
        made once (a frames tree holds millions of images)."""
        root = self.videos_location(loc)
        if self._lemma is None:
            self._lemma = dict.fromkeys(storage.subfolders(root))
        if video not in self._lemma:
            return set()
        cameras = self._lemma[video]
        if cameras is None:
            cameras = {f for f in storage.subfolders(root, video) if f.startswith("fpv")}
            self._lemma[video] = cameras
        return cameras
