"""``vidray convert``'s parsed arguments as ``ConvertOptions``: the checks across flags
that argparse alone cannot make (``ValueError``, one line)."""

from __future__ import annotations

import argparse

from vidray.config import DEFAULT_SIZE
from vidray.media.sampling import PIXEL_FACTOR, VIDEO_MAX_PIXELS, VIDEO_MIN_PIXELS


def frame_size(args: argparse.Namespace):
    """``--size``, ``--native-size`` or ``--min-pixels``/``--max-pixels``: one of them.
    A budget bound not given is qwen-vl-utils' video default, within the one given."""
    from vidray.media.sampling import PixelBudget

    budget = args.min_pixels is not None or args.max_pixels is not None
    ways = {
        "--size": args.size is not None,
        "--native-size": args.native_size,
        "--min-pixels/--max-pixels": budget,
    }
    given = [name for name, on in ways.items() if on]
    if len(given) > 1:
        raise ValueError(f"{' and '.join(given)} exclude each other: give one way to size frames")
    if args.native_size:
        return None
    factor = getattr(args, "pixel_factor", None)
    if factor is not None and not budget:
        raise ValueError("--pixel-factor applies to --min-pixels/--max-pixels only")
    if not budget:
        return DEFAULT_SIZE if args.size is None else args.size
    factor = factor or PIXEL_FACTOR
    low, high = args.min_pixels, args.max_pixels
    if low is None:
        low = min(VIDEO_MIN_PIXELS, high)
    if high is None:  # qwen-vl-utils' fetch_video keeps max_pixels >= 1.05 min_pixels
        high = max(VIDEO_MAX_PIXELS, int(low * 1.05))
    if high < factor * factor:
        raise ValueError(
            f"--max-pixels must be >= {factor * factor} ({factor}x{factor}, the smallest "
            f"frame), got {high}"
        )
    if low > high:
        raise ValueError(f"--min-pixels ({low}) is above --max-pixels ({high})")
    return PixelBudget(min_pixels=low, max_pixels=high, factor=factor)


def sampling_policy(args: argparse.Namespace):
    from vidray.media.sampling import SamplingPolicy

    k = args.frame_multiple
    if args.fps is None:
        if args.fps_regular:
            raise ValueError("--fps-regular needs --fps F (the rate the frames are apart)")
        return SamplingPolicy(mode="uniform", num_frames=args.num_frames, frame_multiple=k)
    if args.max_frames < k:
        raise ValueError(f"--max-frames ({args.max_frames}) is below --frame-multiple ({k})")
    return SamplingPolicy(
        mode="fps",
        fps=args.fps,
        max_frames=args.max_frames,
        regular=args.fps_regular,
        frame_multiple=k,
    )


def options_from_args(args: argparse.Namespace):
    from vidray.config import ConvertOptions

    return ConvertOptions.of(
        source=args.source,
        input=args.input,
        output=args.output,
        sampling=sampling_policy(args),
        size=frame_size(args),
        jpeg_quality=args.jpeg_quality,
        num_workers=args.num_workers,
        cpus_per_worker=args.cpus_per_worker,
        decoder=args.decoder,
        gpus_per_worker=args.gpus_per_worker,
        gpu_workers=args.gpu_workers,
        prompts=args.prompts,
        seed=args.seed,
        limit=args.limit,
        ray_address=args.ray_address,
        samples_per_file=args.samples_per_file,
        sample_timeout_s=args.sample_timeout,
        decode_attempts=args.decode_attempts,
        overwrite=args.overwrite,
        retry_failed=args.retry_failed,
        progress=not args.quiet,
        videos=args.videos,
        split=args.split,
        min_duration=args.min_duration,
        max_duration=args.max_duration,
        qa_mode=args.qa_mode,
        layout=args.layout,
        **({"mc_template": args.mc_template} if args.mc_template is not None else {}),
    )
