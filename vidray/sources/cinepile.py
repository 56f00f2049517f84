"""CinePile: multiple choice on movie clips downloaded from YouTube by the user."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require

#: A YouTube video id: 11 characters of the URL-safe base64 alphabet.
YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")


class CinePile(AnnotationSource):
    """One multiple-choice row per question, rendered with ``--mc-template``; the row's
    ``query`` is the question.

    - The answer is ``answer_key_position`` (0-4), cross-checked against the
      ``answer_key`` text: a question whose two disagree is a ``bad_annotation``.
    - The dataset ships no videos. Names tried, in order, by one listing of the
      videos root (any subfolder, any video extension: downloaders often write
      ``.webm`` or ``.mkv``):

      1. ``{movie_name}_{link tail}``: CinePile's download helper (``download_video``
         in its ``utils.py``) saves ``yt_videos/{movie_name}_{yt_clip_link.split('/')[-1]}.mp4``,
         which for ``https://www.youtube.com/watch?v=ID`` is
         ``{movie_name}_watch?v=ID.mp4``;
      2. ``{movie_name}_{id}`` (?), the name formats.md gives for the evaluation;
      3. ``{id}``, the bare YouTube id other evaluators use (CinePile's own
         ``process_video``, lmms-eval-style loaders: ``yt_clip_link.split('=')[-1]``).

      ``id`` comes from ``yt_clip_link`` (``watch?v=ID``, ``youtu.be/ID``, ...);
      ``videoID`` (?), present only in some mirrors, is preferred when a row has it.
      The default videos root is the helper's ``INPUT/yt_videos``, else
      ``INPUT/videos``.
    - The key is ``<id>:<file stem>#<row index>``: a clip has many questions and no
      question id, and neither the question text nor (clip, question) is guaranteed
      unique, while the row index within a published parquet file is unique and fixed.
    - ``test`` (?) reads ``v2/test-*.parquet``, which carries answers; a row without one
      is a ``bad_annotation``.
    """

    name = "cinepile"
    layout = (
        "INPUT/v2/{train,test}-*.parquet  {movie_name, yt_clip_link, videoID?, question, "
        "choices, answer_key, answer_key_position}; videos: INPUT/yt_videos/ (else videos/), "
        "tried as {movie_name}_watch?v={id} (the download helper's name), "
        "{movie_name}_{id}, then {id}; any extension"
    )
    annotation_files = {"train": ("v2/train-*.parquet",), "test": ("v2/test-*.parquet",)}
    find_videos_by_stem = True
    videos_dir = "yt_videos"
    videos_dir_fallbacks = ("videos",)

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        movie = require(record, "movie_name")
        clip = youtube_id(record)
        question = require(record, "question")
        options = require(record, "choices", list)
        position = _index(record.get("answer_key_position"))
        if not 0 <= position < len(options):
            raise BadAnnotation(f"answer_key_position {position} is outside the options")
        answer_key = require(record, "answer_key")
        if _norm(options[position]) != _norm(answer_key):
            raise BadAnnotation(
                f"answer_key {answer_key!r} is not option {position} ({options[position]!r})"
            )
        prompt, answer = self.multiple_choice(question, options, [position])
        stem = posixpath.basename(unit).removesuffix(".parquet")
        link = record.get("yt_clip_link")
        helper = f"{movie}_{link.strip().split('/')[-1]}" if isinstance(link, str) else None
        names = list(dict.fromkeys(n for n in (helper, f"{movie}_{clip}", clip) if n))
        yield Item(
            f"{clip}:{stem}#{key}",
            names[0],
            ((prompt, answer),),
            question,
            names=tuple(names[1:]),
        )


def youtube_id(record: dict) -> str:
    """The clip's YouTube id: ``videoID`` where a mirror has it, else from the link."""
    mirrored = record.get("videoID")
    if isinstance(mirrored, str) and mirrored.strip():
        found = mirrored.strip()
    else:
        found = _id_from_link(require(record, "yt_clip_link"))
    if not YOUTUBE_ID.fullmatch(found):
        raise BadAnnotation(f"{found!r} is not a YouTube video id")
    return found


def _id_from_link(link: str) -> str:
    parts = urlsplit(link)
    host = parts.netloc.lower().split(":")[0].removeprefix("www.").removeprefix("m.")
    path = [p for p in parts.path.split("/") if p]
    if host == "youtu.be" and path:
        return path[0]
    if host in ("youtube.com", "youtube-nocookie.com"):
        if path == ["watch"]:
            return parse_qs(parts.query).get("v", [""])[0]
        if len(path) >= 2 and path[0] in ("shorts", "embed", "v", "live"):
            return path[1]
    raise BadAnnotation(f"yt_clip_link {link!r} is not a YouTube video link")


def _index(value: Any) -> int:
    """An option index stored as an integer or a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    raise BadAnnotation(f"'answer_key_position' is not an index: {value!r}")


def _norm(text: Any) -> str:
    return " ".join(str(text).split()).casefold()
