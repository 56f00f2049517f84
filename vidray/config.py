"""The options of one conversion, built once by the CLI, a job file or a test."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vidray.io import storage
from vidray.media.sampling import PixelBudget, SamplingPolicy

#: The recipe's wording, with the options on lines of their own ("A. ...").
DEFAULT_MC_TEMPLATE = (
    "{question}\nPlease choose the right answer from the following options:\n{options}"
)
QA_MODES = ("split", "multiturn")
DECODERS = ("auto", "cpu", "nvdec")
#: ``rows``: one row per question (OUTPUT_SCHEMA); ``clips``: one row per clip, its
#: frames once, its questions nested (CLIP_SCHEMA). As ``vidray.schema.LAYOUTS``.
LAYOUTS = ("rows", "clips")
#: The options that name a place (``storage.identity``): recorded and compared by where
#: they are, so ``../out``, ``/abs/out/`` and ``file:///abs/out`` are one command.
LOCATION_OPTIONS = ("input", "output", "videos", "prompts")


@dataclass(frozen=True)
class ConvertOptions:
    source: str
    input: str
    output: str
    sampling: SamplingPolicy = field(default_factory=SamplingPolicy)
    #: Short side of the delivered frames in pixels (aspect kept); a ``PixelBudget``:
    #: Qwen2-VL's rule (sides multiples of 28, pixels within a budget); None keeps the
    #: source.
    size: int | PixelBudget | None = 336
    jpeg_quality: int = 90
    #: Decode workers (convert tasks at once); None sizes the pool to the CPUs of the cluster.
    num_workers: int | None = None
    #: CPUs each convert task reserves; None: a share of the CPUs present at start.
    cpus_per_worker: float | None = None
    #: ``auto``: NVDEC where the worker has a GPU and the video suits it; ``cpu``;
    #: ``nvdec``: workers reserve GPUs (``vidray.media.routing``).
    decoder: str = "auto"
    #: GPUs each GPU convert task reserves (fractional: several share one GPU).
    gpus_per_worker: float | None = None
    #: With ``auto``: decode workers on GPUs, next to the CPU pool; None: one per
    #: ``gpus_per_worker`` share of the GPUs present (1 when none is up yet).
    gpu_workers: int | None = None
    prompts: str | None = None
    seed: int = 0
    #: Convert only the first N samples (in shard order): a trial run.
    limit: int | None = None
    ray_address: str | None = None
    #: Samples per output file (one unit of work); also capped by SAMPLE_BYTES_PER_FILE.
    samples_per_file: int = 16
    #: Per-sample decode limits: seconds per attempt, and attempts before an error row.
    sample_timeout_s: float = 300.0
    decode_attempts: int = 2
    #: The module the isolated decoder process runs (tests swap in a faulty one).
    decoder_module: str = "vidray.media.isolate"
    #: Replace an OUTPUT written by a different command instead of refusing.
    overwrite: bool = False
    #: Redo only the samples recorded in __errors/ and merge them into their units.
    retry_failed: bool = False
    progress: bool = True
    #: Where the videos are when they are not inside the shards (annotation sources);
    #: None: the source's default folder under ``input``.
    videos: str | None = None
    #: The dataset split to read, where a dataset has splits (None: the source's default).
    split: str | None = None
    #: Keep only videos whose container duration lies in [min, max] seconds.
    min_duration: float | None = None
    max_duration: float | None = None
    #: ``split``: one row per question; ``multiturn``: one row per video and span.
    qa_mode: str = "split"
    #: How a multiple-choice question is shown; ``{question}`` and ``{options}``.
    mc_template: str = DEFAULT_MC_TEMPLATE
    #: How data files hold the rows (``LAYOUTS``); it shapes the output (fingerprinted).
    layout: str = "rows"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if isinstance(self.size, int) and self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")
        if self.num_workers is not None and self.num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {self.num_workers}")
        if self.cpus_per_worker is not None and not self.cpus_per_worker > 0:
            raise ValueError(f"cpus_per_worker must be > 0, got {self.cpus_per_worker}")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.gpus_per_worker is not None and not self.gpus_per_worker > 0:
            raise ValueError(f"gpus_per_worker must be > 0, got {self.gpus_per_worker}")
        if self.gpu_workers is not None and self.gpu_workers < 1:
            raise ValueError(f"gpu_workers must be >= 1, got {self.gpu_workers}")
        if self.gpu_workers is not None and self.decoder != "auto":
            raise ValueError(
                "--gpu-workers sizes the GPU pool of --decoder auto; with --decoder "
                f"{self.decoder} every decode worker is a {self.decoder} one (--num-workers)"
            )
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if not self.sample_timeout_s > 0:
            raise ValueError(f"sample_timeout_s must be > 0, got {self.sample_timeout_s}")
        if self.decode_attempts < 1:
            raise ValueError(f"decode_attempts must be >= 1, got {self.decode_attempts}")
        if self.retry_failed and self.overwrite:
            raise ValueError("retry_failed and overwrite exclude each other")
        if self.qa_mode not in QA_MODES:
            raise ValueError(f"qa_mode must be one of {QA_MODES}, got {self.qa_mode!r}")
        for name in ("min_duration", "max_duration"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if (
            self.min_duration is not None
            and self.max_duration is not None
            and self.min_duration > self.max_duration
        ):
            raise ValueError("min_duration is above max_duration")
        check_mc_template(self.mc_template)
        if self.samples_per_file < 1:
            raise ValueError(f"samples_per_file must be >= 1, got {self.samples_per_file}")

    def recorded(self) -> dict[str, Any]:
        """What goes into the commit marker: every option that shapes the output."""
        d = dataclasses.asdict(self)
        for transient in (
            "ray_address",
            "progress",
            "num_workers",
            "cpus_per_worker",
            # the same frames and times on either decoder (pixels within JPEG noise)
            "decoder",
            "gpus_per_worker",
            "gpu_workers",
            "overwrite",
            "retry_failed",
            "sample_timeout_s",
            "decode_attempts",
            "decoder_module",
        ):
            d.pop(transient)
        d["sampling"] = self.sampling.recorded()
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
            f"mc_template may use only {{question}} and {{options}}: {template!r} ({e})"
        ) from None
    for part in ("{question}", "{options}"):
        if part not in template:
            raise ValueError(f"mc_template must contain {part}: {template!r}")
