"""GPU decoding: the routing rules and cost model, the CPU fallback, the refusal of
``--decoder nvdec`` without a GPU; the NVDEC path itself where a GPU is present (the
``on_the_gpu`` tests: ``benchmarks/gpu_check.sh`` runs them, and this module imports
without Ray for it). The NVDEC pixel path without a GPU: tests/media/test_nvdec_cpu.py."""

import io

import numpy as np
import pytest
from PIL import Image

from tests.helpers.datasets import convert_in_process
from vidray import cli, synth
from vidray import output as vout
from vidray.media import decode, routing
from vidray.media.routing import StreamFacts
from vidray.media.sampling import SamplingPolicy

HD = StreamFacts("h264", "yuv420p", 1920, 1080)


def gpu_present() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


@pytest.mark.parametrize(
    ("facts", "refusal"),
    [
        (HD, None),
        (StreamFacts("hevc", "yuv420p10le", 3840, 2160), None),
        (StreamFacts("h264", "yuv444p", 1920, 1080), "nvdec_format:yuv444p"),
        (StreamFacts("h264", "yuv420p10le", 1920, 1080), "nvdec_format:yuv420p10le"),
        (StreamFacts("h264", "yuv420p", 8192, 4320), "nvdec_size:8192x4320"),
        (StreamFacts("h264", "yuv420p", 32, 32), "nvdec_size:32x32"),
        (StreamFacts("prores", "yuv422p10le", 1920, 1080), "nvdec_codec:prores"),
        (StreamFacts("wmv2", "yuv420p", 320, 240), "nvdec_codec:wmv2"),
    ],
)
def test_what_nvdec_can_take(facts, refusal):
    assert routing.nvdec_refusal(facts) == refusal


def test_the_cost_model_keeps_small_and_sparse_work_on_the_cpu():
    sd = StreamFacts("h264", "yuv420p", 960, 540)
    assert not routing.gpu_pays_off(sd, 10_000)  # 540p: the CPU wins
    assert not routing.gpu_pays_off(HD, 10)  # 10 sparse frames: the CPU wins
    assert routing.gpu_pays_off(HD, 1_000)


def test_routing_per_mode():
    def choose(mode, gpu=True, facts=HD, frames=1_000):
        return routing.choose(mode, gpu=gpu, facts=facts, frames_to_decode=frames)

    assert choose("cpu") == ("cpu", "asked")
    assert choose("auto") == ("nvdec", "cost_model")
    assert choose("auto", frames=10) == ("cpu", "cost_model")
    assert choose("auto", gpu=False) == ("cpu", "no_gpu")
    assert choose("nvdec", frames=10) == ("nvdec", "asked")  # asked: no cost model
    vp8 = StreamFacts("av1", "yuv444p", 1920, 1080)
    assert choose("nvdec", facts=vp8) == ("cpu", "nvdec_format:yuv444p")  # never a loss
    with pytest.raises(ValueError, match="decoder mode"):
        choose("gpu")


def test_frames_to_decode_counts_from_the_key_frame_before_each_target():
    # key frames every 2 s at 25 fps; targets 0.5 s and 1.0 s after a key frame
    assert routing.frames_to_decode([0.0, 2.0, 4.0], 25.0, [2.5, 5.0]) == 12 + 25 + 2
    # two targets in one GOP: the stretch between them is counted once
    assert routing.frames_to_decode([0.0], 25.0, [1.0, 2.0]) == 50 + 2
    assert routing.frames_to_decode([], None, []) == 0


def units(out) -> list[dict]:
    from vidray.io import storage

    records = vout.committed_records(storage.location(str(out)))
    return [r.to_json() for r in sorted(records, key=lambda r: r.unit)]


def test_auto_without_a_gpu_is_the_cpu_path_and_says_why(tmp_path):
    from tests.helpers.datasets import star

    root = tmp_path / "star"
    star.build(root)
    cpu_rows, cpu_errors = convert_in_process("star", root, tmp_path / "cpu", decoder="cpu")
    rows, errors = convert_in_process("star", root, tmp_path / "auto", decoder="auto")
    assert rows == cpu_rows and errors == cpu_errors
    decoded = sum(u["decoders"].get("cpu", 0) for u in units(tmp_path / "auto"))
    assert decoded == 3  # 2 videos, 3 spans
    # no GPU was there to use: nothing to explain
    assert all(u["cpu_reasons"] == {} for u in units(tmp_path / "auto"))


def test_a_failing_gpu_decoder_ends_as_cpu_rows_and_is_counted(tmp_path):
    from tests.helpers.datasets import star

    root = tmp_path / "star"
    star.build(root)
    cpu_rows, _ = convert_in_process("star", root, tmp_path / "cpu", decoder="cpu")
    rows, _ = convert_in_process(
        "star",
        root,
        tmp_path / "gpu",
        decoder="nvdec",
        decoder_module="tests.helpers.gpu_fail_child",
    )
    assert rows == cpu_rows and rows  # nothing lost: every row made by the CPU
    committed = units(tmp_path / "gpu")
    assert sum(u["decoders"].get("cpu", 0) for u in committed) == 3
    assert sum(u["decoders"].get("nvdec", 0) for u in committed) == 0
    reasons = {k: v for u in committed for k, v in u["cpu_reasons"].items()}
    assert reasons == {"nvdec_failed:RuntimeError": 3}


def test_nvdec_on_a_cluster_without_gpus_is_refused_before_anything_is_written(
    ray_head, webvid_dir, tmp_path, capsys
):

    out = tmp_path / "out"
    args = ["convert", "webvid", str(webvid_dir), str(out), "--decoder", "nvdec"]
    assert cli.main([*args, "--ray-address", ray_head["address"], "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "vidray: error: --decoder nvdec: the cluster has no GPU; use --decoder auto or cpu, "
        "or pass --gpus-per-worker G where GPU nodes start on demand"
    ]
    assert not out.exists()


needs_gpu = pytest.mark.skipif(not gpu_present(), reason="no NVIDIA GPU (torch.cuda) here")


def _pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=float)


def _tagged(codec: str, pix_fmt: str, width: int, height: int, colorspace: int | None) -> bytes:
    from tests.media.test_nvdec_cpu import encode

    return encode(width, height, codec=codec, pix_fmt=pix_fmt, colorspace=colorspace, frames=60)


GPU_STREAMS = {
    "h264-720p": lambda: synth.encode_mp4(
        synth.VideoSpec(num_frames=120, fps=25, width=1280, height=720, gop=50)
    ),
    "h264-709-sd": lambda: _tagged("libx264", "yuv420p", 640, 360, 1),
    "hevc-10bit-1080p": lambda: _tagged("libx265", "yuv420p10le", 1920, 1080, None),
}


@needs_gpu
@pytest.mark.parametrize("stream", sorted(GPU_STREAMS))
@pytest.mark.parametrize("size", [None, 224])
def test_nvdec_on_the_gpu_gives_the_cpu_frames_within_jpeg_noise(stream, size):
    data = GPU_STREAMS[stream]()
    kw = dict(clips=[decode.Clip(0.5, 2.0)], policy=SamplingPolicy(num_frames=8), size=size)
    cpu = decode.sample_clips(data, quality=95, decoder="cpu", **kw)
    gpu = decode.sample_clips(data, quality=95, decoder="nvdec", gpu=True, **kw)
    assert gpu.decoder == "nvdec", gpu.route
    assert gpu.clips[0].times == cpu.clips[0].times and gpu.size == cpu.size
    for a, b in zip(gpu.clips[0].jpegs, cpu.clips[0].jpegs, strict=True):
        assert abs(_pixels(a) - _pixels(b)).mean() <= 2.0


@needs_gpu
def test_frames_stay_on_the_gpu_and_the_torch_path_is_the_numpy_one_on_the_gpu():
    """With the hwaccel the code uses, a decoded frame is a CUDA frame whose planes
    torch takes as capsules; the torch path gives what the tested numpy path gives
    on the same frame downloaded."""
    from vidray.media import nvdec

    data = synth.encode_mp4(synth.VideoSpec(num_frames=30, width=1280, height=720))
    with nvdec.NvdecVideo(data) as video:
        [(_, _, frame)] = list(video.frames_shown([0.5]))
        assert frame.format.name == "cuda"
        assert frame.planes[0].__dlpack_device__()[0] == 2  # kDLCUDA
        backend = nvdec.TorchBackend(0)
        on_gpu = nvdec.frame_rgb(frame, (640, 360), backend)
        assert on_gpu.is_cuda and tuple(on_gpu.shape) == (3, 360, 640)
        host = frame.reformat(format="nv12")  # av_hwframe_transfer_data
        on_cpu = nvdec.frame_rgb(host, (640, 360), nvdec.Backend())
        diff = abs(on_gpu.cpu().numpy().astype(int) - on_cpu.astype(int))
        assert diff.max() <= 1


def _opts(**kw):
    from vidray.config import ConvertOptions

    return ConvertOptions.of(source="webvid", input="/in", output="/out", **kw).run


def test_decode_pools_per_mode_and_cluster():
    from vidray.pipeline import Pool, _pools

    # no GPU: one CPU pool over the CPUs, 80% of them reserved
    assert _pools(_opts(), 4, 0, None) == [Pool("cpu", 4, 0.8)]
    assert _pools(_opts(decoder="cpu"), 16, 2, None) == [Pool("cpu", 16, 0.8)]
    # a mixed cluster: auto gives both groups work, one GPU worker per GPU by default
    assert _pools(_opts(), 16, 2, None) == [Pool("gpu", 2, 0.8, 1.0), Pool("cpu", 14, 0.8)]
    assert _pools(_opts(gpus_per_worker=0.5), 16, 2, None) == [
        Pool("gpu", 4, 0.8, 0.5),
        Pool("cpu", 12, 0.8),
    ]
    # GPU nodes that start on demand: one GPU worker asks for the first one
    assert _pools(_opts(gpus_per_worker=1, num_workers=40, cpus_per_worker=1), 0, 0, None) == [
        Pool("gpu", 1, 1, 1),
        Pool("cpu", 40, 1),
    ]
    assert _pools(_opts(gpu_workers=3, num_workers=2), 8, 4, None)[0] == Pool("gpu", 3, 1.0, 1.0)
    # no more workers than units left: a one-unit job runs on the GPU pool alone
    assert _pools(_opts(), 16, 2, 1) == [Pool("gpu", 1, 1.0, 1.0)]
    assert _pools(_opts(), 16, 2, 3) == [Pool("gpu", 2, 1.0, 1.0), Pool("cpu", 1, 1.0)]
    # nvdec: every worker a GPU one, as before
    assert _pools(_opts(decoder="nvdec"), 8, 2, None) == [Pool("gpu", 8, 0.8, 0.25)]


def test_gpu_workers_only_with_auto():
    with pytest.raises(ValueError, match="--gpu-workers sizes the GPU pool of --decoder auto"):
        _opts(decoder="cpu", gpu_workers=2)


def test_shards_are_dealt_to_the_pools_by_their_workers():
    from vidray.pipeline import Pool, deal

    plan = [(f"s{i}", None, frozenset(), {}) for i in range(9)]
    gpu, cpu = Pool("gpu", 1, 1, 1), Pool("cpu", 2, 1)
    parts = deal(plan, [gpu, cpu])
    assert [len(p) for p in parts] == [3, 6]
    assert sorted(s for part in parts for s in part) == sorted(plan)  # every shard once
    assert deal(plan, [gpu, cpu]) == parts  # the same deal every time
    assert [len(p) for p in deal(plan[:1], [gpu, cpu])] == [0, 1]  # the pool with more room


# The mixed pools on a real multi-node cluster (a GPU pool on a GPU node next to a CPU
# pool, the GPU pool's CPU fallback and its reason) run on the autoscaling cluster:
# tests/cluster/test_autoscaling.py.
