"""The options tree: each group refuses a bad value by its flag's name, the flat
constructor and ``replace`` route through the groups, and the fingerprint is the
shaping groups' options, the same dict (and hash) as OUTPUTs already on disk hold."""

from __future__ import annotations

import dataclasses
import os

import pytest

from vidray import output as vout
from vidray.config import (
    DEFAULT_MC_TEMPLATE,
    GROUPS,
    SHAPING,
    ConvertOptions,
    RunOptions,
)
from vidray.media import registry
from vidray.media.sampling import PixelBudget, SamplingPolicy
from vidray.sources.base import SourceContext

BASE = {"source": "webvid", "input": "/in", "output": "/out"}


@pytest.mark.parametrize(
    ("bad", "flag"),
    [
        # dataset
        ({"limit": 0}, "--limit"),
        ({"min_duration": -1.0}, "--min-duration"),
        ({"max_duration": -0.5}, "--max-duration"),
        ({"min_duration": 5.0, "max_duration": 2.0}, "--min-duration"),
        ({"qa_mode": "both"}, "--qa-mode"),
        ({"mc_template": "{question}"}, "--mc-template"),
        ({"mc_template": "{question} {options} {x}"}, "--mc-template"),
        # frames
        ({"size": 0}, "--size"),
        ({"jpeg_quality": 0}, "--jpeg-quality"),
        ({"jpeg_quality": 101}, "--jpeg-quality"),
        # output
        ({"layout": "columns"}, "--layout"),
        ({"samples_per_file": 0}, "--samples-per-file"),
        # run
        ({"num_workers": 0}, "--num-workers"),
        ({"cpus_per_worker": 0.0}, "--cpus-per-worker"),
        ({"decoder": "vaapi"}, "--decoder"),
        ({"gpus_per_worker": 0.0}, "--gpus-per-worker"),
        ({"gpu_workers": 0}, "--gpu-workers"),
        ({"decoder": "cpu", "gpu_workers": 2}, "--gpu-workers"),
        ({"sample_timeout_s": 0.0}, "--sample-timeout"),
        ({"decode_attempts": 0}, "--decode-attempts"),
        ({"overwrite": True, "retry_failed": True}, "--retry-failed"),
    ],
)
def test_a_bad_value_is_refused_by_its_flag(bad, flag):
    with pytest.raises(ValueError) as e:
        ConvertOptions.of(**BASE, **bad)
    assert str(e.value).startswith(flag)
    # the group that holds the option refuses it on its own, too
    group = next(g for g, cls in GROUPS.items() if set(bad) <= cls.__dataclass_fields__.keys())
    good = ConvertOptions.of(**BASE)
    with pytest.raises(ValueError, match=flag):
        dataclasses.replace(getattr(good, group), **bad)


def test_good_values_pass_and_land_in_their_groups():
    opts = ConvertOptions.of(
        **BASE, split="val", jpeg_quality=75, layout="clips", decoder="nvdec", limit=3
    )
    assert (opts.dataset.source, opts.dataset.input, opts.out.output) == ("webvid", "/in", "/out")
    assert (opts.dataset.split, opts.dataset.limit) == ("val", 3)
    assert (opts.frames.jpeg_quality, opts.out.layout, opts.run.decoder) == (75, "clips", "nvdec")


def test_an_unknown_option_is_refused():
    with pytest.raises(TypeError, match="num_frames"):
        ConvertOptions.of(**BASE, num_frames=4)
    with pytest.raises(TypeError, match="frames_fps"):
        ConvertOptions.of(**BASE).replace(frames_fps=2.0)


def test_replace_rebuilds_only_the_group_it_changes():
    opts = ConvertOptions.of(**BASE)
    changed = opts.replace(layout="clips", retry_failed=True)
    assert (changed.out.layout, changed.run.retry_failed) == ("clips", True)
    assert changed.dataset is opts.dataset and changed.frames is opts.frames
    assert opts.out.layout == "rows"  # the original is untouched
    with pytest.raises(ValueError, match="--layout"):
        opts.replace(layout="columns")


def test_one_decoder_list_and_one_default():
    assert RunOptions().decoder == registry.DEFAULT_DECODER == "auto"
    assert ConvertOptions.of(**BASE).run.decoder == registry.DEFAULT_DECODER
    for name in registry.DECODERS:
        assert ConvertOptions.of(**BASE, decoder=name).run.decoder == name


# The fingerprints below are those written in ``_vidray_run.json`` of OUTPUTs already
# converted: a change here would make every one of them refuse to resume.
DEFAULT_RECORD = {
    "source": "webvid",
    "input": "/in",
    "output": "/out",
    "sampling": {"mode": "uniform", "num_frames": 8, "fps": None, "max_frames": 64},
    "size": 336,
    "jpeg_quality": 90,
    "prompts": None,
    "seed": 0,
    "limit": None,
    "samples_per_file": 16,
    "videos": None,
    "split": None,
    "min_duration": None,
    "max_duration": None,
    "qa_mode": "split",
    "mc_template": DEFAULT_MC_TEMPLATE,
    "layout": "rows",
}


def test_the_fingerprint_of_the_defaults_is_unchanged():
    recorded = ConvertOptions.of(**BASE).recorded()
    assert recorded == DEFAULT_RECORD
    assert vout.fingerprint(recorded) == vout.fingerprint(DEFAULT_RECORD)


def test_the_fingerprint_of_a_pixel_budget_and_trainer_sampling():
    opts = ConvertOptions.of(
        **BASE,
        size=PixelBudget(),
        limit=2,
        sampling=SamplingPolicy(mode="fps", fps=2.0, regular=True, frame_multiple=2),
    )
    assert opts.recorded() == {
        **DEFAULT_RECORD,
        "sampling": {"mode": "fps", "num_frames": 8, "fps": 2.0, "max_frames": 64,
                     "regular": True, "frame_multiple": 2},
        "size": {"min_pixels": 100352, "max_pixels": 602112, "factor": 28},
        "limit": 2,
    }  # fmt: skip


def test_the_fingerprint_of_an_annotation_source_with_every_dataset_option():
    flat = {
        "source": "star", "input": "s3://b/in", "output": "s3://b/out", "size": None,
        "jpeg_quality": 75, "videos": "s3://b/videos", "split": "val", "min_duration": 1.0,
        "max_duration": 60.0, "qa_mode": "multiturn", "mc_template": "Q: {question}\n{options}",
        "prompts": "p.txt", "seed": 3, "samples_per_file": 4, "layout": "clips",
    }  # fmt: skip
    policy = SamplingPolicy(mode="fps", fps=1.0, max_frames=32)
    recorded = ConvertOptions.of(**flat, sampling=policy).recorded()
    assert recorded == {
        **flat,
        # places are recorded by where they are (a relative path made absolute)
        "prompts": os.path.abspath("p.txt"),
        "limit": None,
        "sampling": {"mode": "fps", "num_frames": 8, "fps": 1.0, "max_frames": 32},
    }


RUN_CHANGES = {
    "ray_address": "ray://head:10001",
    "num_workers": 7,
    "cpus_per_worker": 0.5,
    "decoder": "nvdec",
    "gpus_per_worker": 0.25,
    "sample_timeout_s": 5.0,
    "decode_attempts": 4,
    "decoder_module": "tests.helpers.poison_child",
    "progress": False,
    "overwrite": True,
}


def test_the_fingerprint_ignores_every_run_option_by_construction():
    # every run option, whatever its value: the run group is not a shaping group
    assert "run" not in SHAPING and set(SHAPING) | {"run"} == set(GROUPS)
    assert set(RUN_CHANGES) | {"gpu_workers", "retry_failed"} == {
        f.name for f in dataclasses.fields(RunOptions)
    }
    base = ConvertOptions.of(**BASE)
    assert base.replace(**RUN_CHANGES).recorded() == base.recorded()
    auto = base.replace(gpu_workers=3, retry_failed=True)
    assert auto.recorded() == base.recorded()
    # and no run option's name is a key of the record
    assert not set(base.recorded()) & {f.name for f in dataclasses.fields(RunOptions)}


def test_every_shaping_option_changes_the_fingerprint():
    base = ConvertOptions.of(**BASE)
    changes = {
        "source": "finevideo", "input": "/in2", "output": "/out2", "videos": "/v",
        "split": "val", "limit": 5, "min_duration": 1.0, "max_duration": 9.0,
        "qa_mode": "multiturn", "mc_template": "{options}\n{question}", "prompts": "p.txt",
        "seed": 1, "sampling": SamplingPolicy(num_frames=4), "size": 224, "jpeg_quality": 80,
        "layout": "clips", "samples_per_file": 8,
    }  # fmt: skip
    shaping = {f.name for g in SHAPING for f in dataclasses.fields(GROUPS[g])}
    assert set(changes) == shaping
    for name, value in changes.items():
        assert base.replace(**{name: value}).recorded() != base.recorded(), name


def test_sources_get_the_dataset_group_itself():
    from vidray.plan import build_source

    opts = ConvertOptions.of(
        source="star", input="/in", output="/out", split="val", seed=5, qa_mode="multiturn"
    )
    ctx = build_source(opts).ctx
    assert ctx.dataset is opts.dataset
    assert (ctx.split, ctx.seed, ctx.qa_mode, ctx.videos) == ("val", 5, "multiturn", None)
    assert SourceContext.of(split="test").split == "test"
    with pytest.raises(ValueError, match="--qa-mode"):
        SourceContext.of(qa_mode="nope")
