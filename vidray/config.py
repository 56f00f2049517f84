"""The options of one conversion, built once by the CLI, a job file or a test.

One tree, four groups, each validated when it is built:

    ConvertOptions
      dataset  DatasetOptions  what is read: source, INPUT, videos, split, limit,
                               duration filter, QA rendering, instruction pool and seed
      frames   FrameOptions    how frames are made: sampling, size, JPEG quality
      out      OutputOptions   where and how rows are written: OUTPUT, layout, samples per file
      run      RunOptions      how the run goes: cluster, workers, decoder, limits,
                               progress, and what to do with an existing OUTPUT

The first three shape the output: the commit marker's fingerprint is taken from them
(``SHAPING``), flattened; the run group never enters it. The convert stage and the
sources get the groups themselves (``vidray.stage.StageConfig``,
``vidray.sources.base.SourceContext``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vidray.io import storage
from vidray.media.registry import DECODERS, DEFAULT_DECODER
from vidray.media.sampling import PixelBudget, SamplingPolicy

#: The recipe's wording, with the options on lines of their own ("A. ...").
DEFAULT_MC_TEMPLATE = (
    "{question}\nPlease choose the right answer from the following options:\n{options}"
)
QA_MODES = ("split", "multiturn")
#: ``rows``: one row per question (OUTPUT_SCHEMA); ``clips``: one row per clip, its
#: frames once, its questions nested (CLIP_SCHEMA). As ``vidray.schema.LAYOUTS``.
LAYOUTS = ("rows", "clips")
#: The options that name a place (``storage.identity``): recorded and compared by where
#: they are, so ``../out``, ``/abs/out/`` and ``file:///abs/out`` are one command.
LOCATION_OPTIONS = ("input", "output", "videos", "prompts")
#: Short side of the delivered frames unless told (``--size``).
DEFAULT_SIZE = 336


def _at_least(flag: str, value: float | None, low: float, *, strict: bool = False) -> None:
    """Refuse ``value`` (None passes) below ``low`` (or not above it, ``strict``)."""
    if value is None:
        return
    if value <= low if strict else value < low:
        raise ValueError(f"{flag} must be {'>' if strict else '>='} {low:g}, got {value}")


def _one_of(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class DatasetOptions:
    """What is read, and how its annotations become conversations."""

    source: str
    input: str
    #: Where the videos are when they are not inside the shards (annotation sources);
    #: None: the source's default folder under ``input``.
    videos: str | None = None
    #: The dataset split to read, where a dataset has splits (None: the source's default).
    #: Not the split in the data files' names (``StageConfig.file_split``).
    split: str | None = None
    #: Convert only the first N samples (in shard order): a trial run.
    limit: int | None = None
    #: Keep only videos whose container duration lies in [min, max] seconds.
    min_duration: float | None = None
    max_duration: float | None = None
    #: ``split``: one row per question; ``multiturn``: one row per video and span.
    qa_mode: str = "split"
    #: How a multiple-choice question is shown; ``{question}`` and ``{options}``.
    mc_template: str = DEFAULT_MC_TEMPLATE
    #: The caption-instruction pool's file (None: the built-in pools).
    prompts: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _at_least("--limit", self.limit, 1)
        _at_least("--min-duration", self.min_duration, 0)
        _at_least("--max-duration", self.max_duration, 0)
        if (
            self.min_duration is not None
            and self.max_duration is not None
            and self.min_duration > self.max_duration
        ):
            raise ValueError(
                f"--min-duration ({self.min_duration:g}) is above --max-duration "
                f"({self.max_duration:g})"
            )
        _one_of("--qa-mode", self.qa_mode, QA_MODES)
        check_mc_template(self.mc_template)

    @property
    def duration_range(self) -> tuple[float | None, float | None]:
        return (self.min_duration, self.max_duration)


@dataclass(frozen=True)
class FrameOptions:
    """How each clip's frames are chosen, sized and encoded."""

    sampling: SamplingPolicy = field(default_factory=SamplingPolicy)
    #: Short side of the delivered frames in pixels (aspect kept); a ``PixelBudget``:
    #: Qwen2-VL's rule (sides multiples of 28, pixels within a budget); None keeps the
    #: source.
    size: int | PixelBudget | None = DEFAULT_SIZE
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if isinstance(self.size, int):
            _at_least("--size", self.size, 1)
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"--jpeg-quality must be in 1..100, got {self.jpeg_quality}")


@dataclass(frozen=True)
class OutputOptions:
    """Where the rows go and how the data files hold them."""

    output: str
    #: How data files hold the rows (``LAYOUTS``).
    layout: str = "rows"
    #: Samples per output file (one unit of work); also capped by SAMPLE_BYTES_PER_FILE.
    samples_per_file: int = 16

    def __post_init__(self) -> None:
        _one_of("--layout", self.layout, LAYOUTS)
        _at_least("--samples-per-file", self.samples_per_file, 1)


@dataclass(frozen=True)
class RunOptions:
    """How the run goes; none of it changes a byte of the output."""

    ray_address: str | None = None
    #: Decode workers (convert tasks at once); None sizes the pool to the CPUs of the cluster.
    num_workers: int | None = None
    #: CPUs each convert task reserves; None: a share of the CPUs present at start.
    cpus_per_worker: float | None = None
    #: ``auto``: NVDEC where the worker has a GPU and the video suits it; ``cpu``;
    #: ``nvdec``: workers reserve GPUs (``vidray.media.routing``). The same frames and
    #: times on either decoder (pixels within JPEG noise).
    decoder: str = DEFAULT_DECODER
    #: GPUs each GPU convert task reserves (fractional: several share one GPU).
    gpus_per_worker: float | None = None
    #: With ``auto``: decode workers on GPUs, next to the CPU pool; None: one per
    #: ``gpus_per_worker`` share of the GPUs present (1 when none is up yet).
    gpu_workers: int | None = None
    #: Per-sample decode limits: seconds per attempt, and attempts before an error row.
    sample_timeout_s: float = 300.0
    decode_attempts: int = 2
    #: The module the isolated decoder process runs (tests swap in a faulty one).
    decoder_module: str = "vidray.media.isolate"
    progress: bool = True
    #: Replace an OUTPUT written by a different command instead of refusing.
    overwrite: bool = False
    #: Redo only the samples recorded in __errors/ and merge them into their units.
    retry_failed: bool = False

    def __post_init__(self) -> None:
        _at_least("--num-workers", self.num_workers, 1)
        _at_least("--cpus-per-worker", self.cpus_per_worker, 0, strict=True)
        _one_of("--decoder", self.decoder, DECODERS)
        _at_least("--gpus-per-worker", self.gpus_per_worker, 0, strict=True)
        _at_least("--gpu-workers", self.gpu_workers, 1)
        if self.gpu_workers is not None and self.decoder != "auto":
            raise ValueError(
                "--gpu-workers sizes the GPU pool of --decoder auto; with --decoder "
                f"{self.decoder} every decode worker is a {self.decoder} one (--num-workers)"
            )
        _at_least("--sample-timeout", self.sample_timeout_s, 0, strict=True)
        _at_least("--decode-attempts", self.decode_attempts, 1)
        if self.retry_failed and self.overwrite:
            raise ValueError("--retry-failed and --overwrite exclude each other")


#: The groups of ``ConvertOptions`` and their classes, in order.
GROUPS: dict[str, type] = {
    "dataset": DatasetOptions,
    "frames": FrameOptions,
    "out": OutputOptions,
    "run": RunOptions,
}
#: The groups that shape the output: the fingerprint is theirs.
SHAPING = ("dataset", "frames", "out")
#: Flat option name -> its group (``ConvertOptions.of``, ``replace``).
_GROUP_OF = {f.name: g for g, cls in GROUPS.items() for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class ConvertOptions:
    """One conversion's options as a tree of groups (see the module's docstring).
    Build it from flat keywords with ``of``; change it with ``replace``."""

    dataset: DatasetOptions
    frames: FrameOptions
    out: OutputOptions
    run: RunOptions

    @classmethod
    def of(cls, **flat: Any) -> ConvertOptions:
        """The tree from flat keywords (``source=``, ``input=``, ``output=``, then any
        option by its field name), each group validated as it is built."""
        parts: dict[str, dict[str, Any]] = {g: {} for g in GROUPS}
        unknown = sorted(set(flat) - _GROUP_OF.keys())
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(unknown)}")
        for name, value in flat.items():
            parts[_GROUP_OF[name]][name] = value
        return cls(**{g: GROUPS[g](**parts[g]) for g in GROUPS})

    def replace(self, **flat: Any) -> ConvertOptions:
        """A copy with the options named by flat keyword changed, each group rebuilt
        (and validated) only where one of its options changed."""
        unknown = sorted(set(flat) - _GROUP_OF.keys())
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(unknown)}")
        changed: dict[str, dict[str, Any]] = {}
        for name, value in flat.items():
            changed.setdefault(_GROUP_OF[name], {})[name] = value
        groups = {g: dataclasses.replace(getattr(self, g), **kw) for g, kw in changed.items()}
        return dataclasses.replace(self, **groups)

    def recorded(self) -> dict[str, Any]:
        """What goes into the commit marker: the options of the groups that shape the
        output (``SHAPING``), flattened; the sampling policy as it records itself."""
        d: dict[str, Any] = {}
        for group in SHAPING:
            d.update(dataclasses.asdict(getattr(self, group)))
        d["sampling"] = self.frames.sampling.recorded()
        for key in LOCATION_OPTIONS:  # where they are, not how they were typed
            if d[key] is not None:
                d[key] = storage.identity(d[key])
        return d


def check_mc_template(template: str) -> None:
    """A template must show the question and the options, and nothing else."""
    try:
        template.format(question="q", options="o")
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(
            f"--mc-template may use only {{question}} and {{options}}: {template!r} ({e})"
        ) from None
    for part in ("{question}", "{options}"):
        if part not in template:
            raise ValueError(f"--mc-template must contain {part}: {template!r}")
