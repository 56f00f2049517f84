"""What the reader takes from torch when it is importable: the ``IterableDataset`` base
class, the rank and DataLoader worker it runs as, and rank 0's file list."""

from __future__ import annotations

try:  # The torch part is thin: worker and rank discovery, and the base class.
    import torch.utils.data as _torch_data

    _Base: type = _torch_data.IterableDataset
except ImportError:  # pragma: no cover - torch is in the ``gpu`` extra only
    _torch_data = None
    _Base = object


def _torch_worker() -> tuple[int, int]:
    info = _torch_data.get_worker_info() if _torch_data is not None else None
    return (0, 1) if info is None else (info.id, info.num_workers)


def _torch_rank() -> tuple[int, int]:
    try:
        import torch.distributed as dist
    except ImportError:
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _broadcast_files(files: list[str]) -> list[str]:
    """Rank 0's file list on every rank (ranks that list a running job at different
    moments could see different units and so overlap or miss files)."""
    try:
        import torch.distributed as dist
    except ImportError:
        return files
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return files
    box = [files]
    dist.broadcast_object_list(box, src=0)
    return box[0]
