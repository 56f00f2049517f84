"""The convert stage: a decode task's work on one unit.

Each unit's samples are grouped by the video file they read; each group is one call
to the isolated decoder process, which makes one pass over the video for every span
asked of it. Rows are written in the unit's sample order, as they are produced
(``output.writer.UnitWriter``), and the unit is committed at the end of its call.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from vidray import records, sources
from vidray.config import (
    ConvertOptions,
    DatasetOptions,
    FrameOptions,
    OutputOptions,
    RunOptions,
)
from vidray.io import storage
from vidray.media import decode, images, isolate
from vidray.media.sampling import chosen_frames
from vidray.output import names, writer
from vidray.output.read import read_unit_rows
from vidray.output.rows import ErrorRow, OutputRow, Turn
from vidray.records import Sample, UnitResult, WorkUnit
from vidray.schema import Reason
from vidray.sources.videos import IMAGE_SUFFIXES


@dataclass(frozen=True)
class StageConfig:
    """What a convert task needs: the option groups themselves, and what the driver
    resolved from them."""

    dataset: DatasetOptions
    frames: FrameOptions
    out: OutputOptions
    run: RunOptions
    #: OUTPUT's URI as resolved (``storage.location``).
    output: str
    #: The videos root of an annotation source (None: videos travel inside the shards).
    videos: str | None = None
    #: Frame rate of frame-image folders (``media == "frames"``).
    frames_fps: float | None = None
    #: The Hugging Face split in the data files' names (``output.names.hf_split`` of the
    #: dataset split); not the dataset split (``dataset.split``).
    file_split: str = "train"

    @classmethod
    def from_options(
        cls, opts: ConvertOptions, output_uri: str, source: sources.Source, input_uri: str
    ) -> StageConfig:
        root = source.videos_location(storage.location(input_uri))
        videos = None if root is None else root.uri
        frames_fps = source.frames_fps
        split = source.split()
        return cls(
            opts.dataset,
            opts.frames,
            opts.out,
            opts.run,
            output=output_uri,
            videos=videos,
            frames_fps=frames_fps,
            file_split=names.hf_split(split),
        )

    @property
    def source(self) -> str:
        return self.dataset.source


#: What converting one sample gives: its data rows and its error rows.
Converted = tuple[list[OutputRow], list[ErrorRow]]


class ConvertStage:
    """Decode each video once for all its samples in a unit, sample their frames, and
    write each unit's files."""

    def __init__(self, cfg: StageConfig, decoder: isolate.IsolatedDecoder | None = None) -> None:
        self.cfg = cfg
        self.out = storage.location(cfg.output)
        self.videos = storage.location(cfg.videos) if cfg.videos else None
        self.decoder = decoder or isolate.IsolatedDecoder(
            timeout_s=cfg.run.sample_timeout_s,
            attempts=cfg.run.decode_attempts,
            module=cfg.run.decoder_module,
        )
        #: Whether this actor was given a GPU (Ray sets CUDA_VISIBLE_DEVICES for it,
        #: which the decoder process inherits).
        self.gpu = _has_gpu() if cfg.run.decoder != "cpu" else False
        self._decoders: Counter[str] = Counter()
        self._cpu_reasons: Counter[str] = Counter()

    def __call__(self, batch: pa.Table) -> pa.Table:
        units = records.units_from_arrow(batch)
        return records.results_to_arrow([self.convert_unit(u) for u in units])

    def convert_unit(self, unit: WorkUnit) -> UnitResult:
        unit_writer = writer.UnitWriter(
            self.out,
            unit.name,
            unit.shard,
            unit.index,
            unit.last,
            split=self.cfg.file_split,
            layout=self.cfg.out.layout,
        )
        samples = unit.samples
        todo = set(range(len(samples)))
        kept: dict[str, OutputRow] = {}
        if unit.retry is not None:
            # Keep the unit's converted rows, redo only the samples that failed; a
            # redone sample replaces whatever rows it had: retrying is idempotent.
            redo = set(unit.retry)
            todo = {i for i, s in enumerate(samples) if redo.intersection(s.row_ids)}
            kept = {r.id: r for r in read_unit_rows(self.out, unit.name, unit.shard)}
        self._decoders.clear()
        self._cpu_reasons.clear()
        try:
            for i, converted in self._converted(samples, todo):
                if converted is None:
                    rows = [kept[rid] for rid in samples[i].row_ids if rid in kept]
                    errors: list[ErrorRow] = []
                else:
                    rows, errors = converted
                for row in rows:
                    unit_writer.add(row)
                for error in errors:
                    unit_writer.add_error(error)
            group = {"gpu" if self.gpu else "cpu": len(samples)}
            return unit_writer.commit(
                len(samples), dict(self._decoders), dict(self._cpu_reasons), group
            )
        except BaseException:
            unit_writer.abort()
            raise

    def _converted(
        self, samples: list[Sample], todo: set[int]
    ) -> Iterator[tuple[int, Converted | None]]:
        """Each sample's rows and error rows, in sample order (None for a sample that
        is not in ``todo``). Samples on one video file are converted together."""
        groups: dict[Any, list[int]] = {}
        for i in sorted(todo):
            key = self._video_key(samples[i])
            groups.setdefault(("alone", i) if key is None else key, []).append(i)
        ready: dict[int, Converted | None] = {i: None for i in range(len(samples)) if i not in todo}
        following = 0
        for members in groups.values():  # in the order of their first sample
            group = [samples[i] for i in members]
            ready.update(zip(members, self._convert_group(group), strict=True))
            while following in ready:
                yield following, ready.pop(following)
                following += 1
        while following in ready:
            yield following, ready.pop(following)
            following += 1

    def _video_key(self, s: Sample) -> Any:
        """What identifies the video file ``s`` reads, when samples may share it."""
        if s.error or s.media != "video" or s.data is not None:
            return None
        ref = self._ref(s)
        return None if ref is None else ("video", ref)

    def _ref(self, s: Sample) -> storage.FileRef | None:
        """The file a sample's video is read from, when it does not travel inline: its
        own reference (a large tar member), else its path under the videos root."""
        if s.ref is not None:
            return s.ref
        return None if self.videos is None else storage.FileRef(self.videos.uri, s.video)

    def _convert_group(self, group: list[Sample]) -> list[Converted]:
        first = group[0]
        if first.error:
            return [([], self._errors(first, *first.error))]
        try:
            if first.media == "image":
                (s,) = group
                return [(self._image_rows(s, self._encode_images(s)), [])]
            if first.media == "frames":
                (s,) = group
                info, times, jpegs, size = self._sample_frames(s)
                span = decode.clip_span(info, s.clip, s.clip_unit)
                self._decoders["cpu"] += 1  # frame images: decoded on the CPU
                return [(self._rows(s, info, size, span, times, jpegs), [])]
            result = self.decoder.sample_clips(
                self._video(first),
                clips=[decode.Clip(s.clip[0], s.clip[1], s.clip_unit) for s in group],
                policy=self.cfg.frames.sampling,
                size=self.cfg.frames.size,
                quality=self.cfg.frames.jpeg_quality,
                duration_range=self.cfg.dataset.duration_range,
                decoder=self.cfg.run.decoder,
                gpu=self.gpu,
            )
        except decode.DecodeFailure as e:
            return [([], self._errors(s, e.reason, e.message)) for s in group]
        self._decoders[result.decoder] += len(group)
        if result.decoder == "cpu" and (self.gpu or self.cfg.run.decoder == "nvdec"):
            # a GPU was there to use (or asked for): say why the CPU did the work
            self._cpu_reasons[result.route] += len(group)
        out: list[Converted] = []
        for s, clip in zip(group, result.clips, strict=True):
            if isinstance(clip, decode.ClipFailure):
                out.append(([], self._errors(s, clip.reason, clip.message)))
            else:
                rows = self._rows(s, result.info, result.size, clip.span, clip.times, clip.jpegs)
                out.append((rows, []))
        return out

    def _rows(
        self,
        s: Sample,
        info: decode.VideoInfo,
        size: tuple[int, int],
        span: tuple[float, float],
        times: list[float],
        jpegs: list[bytes],
    ) -> list[OutputRow]:
        """One row per conversation. A sample with a span reports it in seconds (a
        span "to the end" says where that was); a whole video has no span."""
        start, end = (None, None) if s.clip == (None, None) else span
        return [
            OutputRow(
                id=c.id,
                source=self.cfg.source,
                video=s.video,
                clip_start=start,
                clip_end=end,
                conversations=_turns(c),
                query=c.query,
                frames=jpegs,
                frame_timestamps=times,
                width=size[0],
                height=size[1],
                video_duration=info.duration,
                video_fps=info.fps,
                label=c.label,
                classname=c.classname,
            )
            for c in s.conversations
        ]

    def _image_rows(self, s: Sample, stills: images.Stills) -> list[OutputRow]:
        """One row per conversation of an image sample: the image(s) in ``frames``, no
        time axis (no timestamps, clip or video facts); the size of the first image."""
        width, height = stills.sizes[0]
        return [
            OutputRow(
                id=c.id,
                source=self.cfg.source,
                video=s.video,
                clip_start=None,
                clip_end=None,
                conversations=_turns(c),
                query=c.query,
                frames=stills.jpegs,
                frame_timestamps=[],
                width=width,
                height=height,
                video_duration=None,
                video_fps=None,
                label=c.label,
                classname=c.classname,
            )
            for c in s.conversations
        ]

    def _errors(self, s: Sample, reason: str, message: str) -> list[ErrorRow]:
        """One error row per conversation the sample carried (one for the sample when
        it carried none), so no question disappears without its id."""
        return [
            ErrorRow(rid, self.cfg.source, s.video, Reason(reason), message) for rid in s.row_ids
        ]

    def _video(self, s: Sample) -> bytes | storage.FileRef:
        """The sample's video: bytes that travelled inside its shard, or a reference
        the decoder process opens and reads by ranges."""
        if s.data is not None:
            return s.data
        ref = self._ref(s)
        if ref is None:
            raise decode.DecodeFailure(Reason.MISSING_VIDEO, "the sample carries no video")
        return ref

    def _encode_images(self, s: Sample) -> images.Stills:
        """An image sample: the images it carries, or its file under the images root
        (read here, at most ``MAX_IMAGE_BYTES`` of it), decoded, scaled and re-encoded
        in the decoder process."""
        if s.images:
            data = s.images
            names = [f"{k} of {s.video}" for k in range(len(s.images))]
        else:
            assert self.videos is not None
            where = self.videos.display(s.video)
            try:
                with storage.open_read(self.videos, s.video) as f:
                    data = [f.read(images.MAX_IMAGE_BYTES + 1)]
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
                raise decode.DecodeFailure(Reason.MISSING_IMAGE, f"{where} does not exist") from e
            except OSError as e:  # permissions, storage gone after its retries
                raise decode.DecodeFailure(Reason.DECODE_ERROR, f"cannot read {where}: {e}") from e
            names = [s.video]
        return self.decoder.encode_images(
            data, names=names, size=self.cfg.frames.size, quality=self.cfg.frames.jpeg_quality
        )

    def _sample_frames(self, s: Sample) -> Any:
        """A video stored as a folder of frame images: choose the images from the
        listing alone, then read, scale and re-encode only those."""
        assert self.videos is not None and self.cfg.frames_fps
        fps = self.cfg.frames_fps
        names = storage.list_files(self.videos, IMAGE_SUFFIXES, s.video)
        if not names:
            raise decode.DecodeFailure(
                Reason.MISSING_VIDEO, f"{self.videos.display(s.video)} holds no frame images"
            )
        info = decode.VideoInfo(duration=len(names) / fps, fps=fps, width=0, height=0)
        decode.check_duration(info, self.cfg.dataset.duration_range)
        start, end = decode.clip_span(info, s.clip, s.clip_unit)
        times = [i / fps for i in range(len(names))]
        chosen = chosen_frames(self.cfg.frames.sampling, times, start, end)
        read: dict[int, bytes] = {}  # a frame repeated (regular, frame_multiple) is read once
        for i in chosen:
            if i not in read:
                with storage.open_read(self.videos, names[i]) as f:
                    read[i] = f.read()
        images = [read[i] for i in chosen]
        return self.decoder.sample_images(
            images,
            times=[times[i] for i in chosen],
            info=info,
            size=self.cfg.frames.size,
            quality=self.cfg.frames.jpeg_quality,
        )


def _turns(c: records.Conversation) -> list[Turn]:
    return [{"from": f, "value": v} for f, v in c.turns]


def _has_gpu() -> bool:
    """Whether Ray gave this process a GPU (outside Ray: whether one is visible)."""
    try:
        import ray

        if ray.is_initialized():
            return bool(ray.get_gpu_ids())
    except Exception:
        pass
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return bool(visible) and visible != "-1"


#: The decoder process of this Ray worker process, kept from one task to the next: Ray
#: gives a job's later tasks (later units, later conversions of the same driver) to the
#: worker processes it already started, so their imports and decoder process are paid
#: once per worker, not once per unit or per conversion.
_DECODER: tuple[tuple[Any, ...], isolate.IsolatedDecoder] | None = None


def worker_decoder(cfg: StageConfig) -> isolate.IsolatedDecoder:
    """This process's decoder for ``cfg``: the one already running unless its limits,
    its module or the GPUs Ray gave this task (which the decoder process inherits)
    differ, in which case the old one is closed and a new one started."""
    global _DECODER
    key = (cfg.run.decoder_module, cfg.run.sample_timeout_s, cfg.run.decode_attempts,
           os.environ.get("CUDA_VISIBLE_DEVICES"))  # fmt: skip
    if _DECODER is None or _DECODER[0] != key:
        if _DECODER is not None:
            _DECODER[1].close()
        decoder = isolate.IsolatedDecoder(
            timeout_s=cfg.run.sample_timeout_s,
            attempts=cfg.run.decode_attempts,
            module=cfg.run.decoder_module,
        )
        _DECODER = (key, decoder)
    _DECODER[1].start()  # it imports while this task reads its unit's inputs
    return _DECODER[1]


def convert_batch(batch: pa.Table, cfg: StageConfig) -> pa.Table:
    """The convert stage as a Ray Data task: ``batch``'s units (one per batch), with
    this worker process's decoder."""
    return ConvertStage(cfg, decoder=worker_decoder(cfg))(batch)
