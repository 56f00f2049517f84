"""``VidrayReader``: the committed samples of OUTPUT, sharded, shuffled in blocks and
resumable from its state."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from vidray.io import storage
from vidray.output.names import MARKER
from vidray.output.read import DataFile, data_files
from vidray.reader.distributed import _Base, _broadcast_files, _torch_rank, _torch_worker
from vidray.reader.files import _row_group_rows
from vidray.reader.frames import FRAME_MODES, FrameMode, decode_frames
from vidray.reader.parts import (
    Part,
    Position,
    Shard,
    _replace_in_block,
    deal_files,
    part_rows,
    split_rows,
)

#: Bumped when the meaning of a state's fields changes. 2: ``position.file`` indexes the
#: reader's parts (whole files, or runs of rows when files are fewer than readers); a
#: state of version 1 fits where the split is by file.
STATE_VERSION = 2


class ReaderError(ValueError):
    """A state does not fit this reader, or this reader its place; one line. (OUTPUT
    that cannot be read is ``vidray.output.OutputError``.)"""


def _check_index(name: str, value: int | None, low: int = 0) -> None:
    if value is not None and (not isinstance(value, int) or value < low):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _digest(files: list[str]) -> str:
    return hashlib.sha256(json.dumps(files).encode()).hexdigest()


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


class VidrayReader(_Base):
    """The committed samples of OUTPUT, sharded, shuffled and resumable.

    ``rank``/``world_size`` default to ``torch.distributed``'s when it is initialised
    (else 0/1), and ``worker_id``/``num_workers`` to the DataLoader worker's
    (``torch.utils.data.get_worker_info()``; else 0/1); pass them to use the reader
    without torch. The files are listed once, here (``output.read.data_files``;
    under ``torch.distributed`` rank 0's list is broadcast): units committed later are
    read by a new reader. ``files`` overrides the listing.

    One ``for`` loop is the rest of the current epoch; a completed epoch moves the
    reader to the next one. ``set_epoch`` chooses it (call it on the reader given to a
    DataLoader before each epoch, as with ``DistributedSampler``, since worker
    processes get copies). Each sample is a dict: ``id``, ``conversations``,
    ``frames`` (decoded per ``frames``: ``pil``, ``numpy`` or ``jpeg`` bytes),
    ``frame_timestamps`` and the clip columns of ``OUTPUT_SCHEMA``.
    """

    def __init__(
        self,
        output: str,
        *,
        rank: int | None = None,
        world_size: int | None = None,
        worker_id: int | None = None,
        num_workers: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
        shuffle_buffer: int = 1024,
        frames: FrameMode = "pil",
        files: list[str] | None = None,
    ) -> None:
        if frames not in FRAME_MODES:
            raise ValueError(f"frames must be one of {', '.join(FRAME_MODES)}, got {frames!r}")
        _check_index("shuffle_buffer", shuffle_buffer, 1)
        _check_index("world_size", world_size, 1)
        _check_index("num_workers", num_workers, 1)
        _check_index("rank", rank)
        _check_index("worker_id", worker_id)
        if rank is not None and world_size is not None and rank >= world_size:
            raise ValueError(f"rank {rank} is not below world_size {world_size}")
        if worker_id is not None and num_workers is not None and worker_id >= num_workers:
            raise ValueError(f"worker_id {worker_id} is not below num_workers {num_workers}")
        self.output = output
        self.loc = storage.location(output)
        self.rank, self.world_size = rank, world_size
        self.worker_id, self.num_workers = worker_id, num_workers
        self.seed, self.shuffle, self.shuffle_buffer = seed, shuffle, shuffle_buffer
        self.frames = frames
        self.complete = storage.exists(self.loc, MARKER)
        if files is None:
            files, _ = data_files(self.loc)  # OutputError: not a vidray output
            if rank is None or world_size is None:
                files = _broadcast_files(files)
            # A complete output's list is _SUCCESS's: a state need not carry it.
        else:
            self.complete = False
        self.files = sorted(files)
        self.epoch = 0
        self.position = Position()
        self._state_shard: Shard | None = None  # a loaded state's, checked at iteration
        self._rows: dict[str, list[int]] = {}  # rows per row group of a file, once read
        self._warned = False

    # ------------------------------------------------------------------ sharding

    def shard(self) -> Shard:
        """This reader's place, explicit arguments first, then torch's."""
        rank, world = self.rank, self.world_size
        if rank is None or world is None:
            r, w = _torch_rank()
            rank, world = (r if rank is None else rank), (w if world is None else world)
        wid, nw = self.worker_id, self.num_workers
        if wid is None or nw is None:
            i, n = _torch_worker()
            wid, nw = (i if wid is None else wid), (n if nw is None else nw)
        if rank >= world or wid >= nw:
            raise ReaderError(f"rank {rank}/{world}, worker {wid}/{nw}: out of range")
        return Shard(rank, world, wid, nw)

    def _file_order(self, epoch: int) -> list[str]:
        order = list(self.files)
        if self.shuffle:
            perm = np.random.default_rng([self.seed, epoch]).permutation(len(order))
            order = [order[i] for i in perm]
        return order

    def epoch_parts(self, epoch: int, shard: Shard) -> list[Part]:
        """What ``shard`` reads in ``epoch``, in reading order: whole files dealt
        round-robin when there are at least as many files as readers, else its run of
        the epoch's rows (``split_rows``; the row groups shuffled by seed and epoch),
        with a warning, once, where a reader still gets no rows (fewer rows than readers;
        the shares differ by one row at most, so that is the only uneven split)."""
        order = self._file_order(epoch)
        if len(order) >= shard.count:
            return deal_files(order, shard)
        groups = []
        for rel in order:
            if rel not in self._rows:
                self._rows[rel] = _row_group_rows(self.loc, rel)
            groups += [(rel, rg, rows) for rg, rows in enumerate(self._rows[rel])]
        if self.shuffle:
            perm = np.random.default_rng([self.seed, epoch, 1]).permutation(len(groups))
            groups = [groups[i] for i in perm]
        shares = split_rows(groups, shard.count)
        self._warn_uneven(shard, len(order), len(groups), [sum(map(part_rows, p)) for p in shares])
        return shares[shard.index]

    def _warn_uneven(self, shard: Shard, files: int, groups: int, rows: list[int]) -> None:
        """Where a reader gets no rows and another some (none at all is no imbalance):
        once per reader, by reader 0 only (every reader finds the same counts)."""
        if self._warned or shard.index != 0 or min(rows) > 0 or max(rows) == 0:
            return
        self._warned = True
        shown = ", ".join(map(str, rows)) if len(rows) <= 16 else f"{min(rows)} to {max(rows)}"
        empty = sum(1 for r in rows if r == 0)
        warnings.warn(
            f"VidrayReader: {self.loc.display()} has {sum(rows)} rows in {_n(files, 'file')} "
            f"({_n(groups, 'row group')}) for {shard.count} readers "
            f"({_n(shard.world_size, 'rank')} x {_n(shard.num_workers, 'worker')}): "
            f"rows per reader {shown}"
            + (f", {empty} readers with none" if empty else "")
            + "; a rank that runs out first waits on the others (use fewer readers)",
            UserWarning,
            stacklevel=3,
        )

    def epoch_files(self, epoch: int, shard: Shard) -> list[str]:
        """The files ``shard`` reads (some of) in ``epoch``, in reading order."""
        return list(dict.fromkeys(part.file for part in self.epoch_parts(epoch, shard)))

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` from its beginning at the next iteration."""
        _check_index("epoch", epoch)
        self.epoch, self.position = epoch, Position()

    # ------------------------------------------------------------------ reading

    def _stream(self, parts: list[Part], start: Position) -> Iterator[tuple[Position, dict]]:
        """The samples of ``parts`` from ``start`` on, each with the position of the
        sample after it (``block``/``in_block`` unset)."""
        for fi in range(start.file, len(parts)):
            rel = parts[fi].file
            with storage.open_read(self.loc, rel) as f:
                data = DataFile(self.loc, rel, f)  # OutputError: not a vidray data file
                groups = parts[fi].groups
                first = start.row_group if fi == start.file else 0
                for gi in range(first, data.num_row_groups if groups is None else len(groups)):
                    if groups is None:
                        samples = data.row_group(gi)
                    else:
                        rg, lo, hi = groups[gi]
                        samples = data.row_group(rg, (lo, hi))
                    skip = start.sample if (fi, gi) == (start.file, start.row_group) else 0
                    for si in range(skip, len(samples)):
                        yield Position(file=fi, row_group=gi, sample=si + 1), samples[si]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        shard = self.shard()
        if self._state_shard is not None and self._state_shard != shard:
            raise ReaderError(
                f"the loaded state belongs to reader {self._state_shard}, not {shard}: "
                "resume with the same world size, rank, worker count and worker id"
            )
        parts = self.epoch_parts(self.epoch, shard)
        pos = self.position
        stream = self._stream(parts, pos)
        while True:
            block: list[dict] = []
            after = pos  # where the next block starts once this one is read
            for after_sample, sample in stream:
                block.append(sample)
                after = after_sample
                if len(block) == self.shuffle_buffer:
                    break
            if not block:
                break
            order: Any = range(len(block))
            if self.shuffle:
                key = [self.seed, self.epoch, shard.index, pos.block]
                order = np.random.default_rng(key).permutation(len(block))
            next_pos = Position(pos.block + 1, after.file, after.row_group, after.sample)
            for k in range(pos.in_block, len(block)):
                # Counted before the yield: the consumer holds the sample once it has it.
                done = k + 1 == len(block)
                self.position = next_pos if done else _replace_in_block(pos, k + 1)
                yield self._sample(block[order[k]])
            pos = next_pos
            self.position = pos
        self.epoch, self.position = self.epoch + 1, Position()
        self._state_shard = None

    def _sample(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "frames": decode_frames(row["frames"], self.frames)}

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """The reader's epoch and position, as plain JSON-able values. Under a
        DataLoader with workers, each worker's copy has its own (torchdata's
        ``StatefulDataLoader`` collects them per worker)."""
        shard = self._state_shard
        if shard is None:
            try:
                shard = self.shard()
            except ReaderError:
                shard = None
        return {
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "position": self.position.__dict__.copy(),
            "shard": None if shard is None else shard.__dict__.copy(),
            "seed": self.seed,
            "shuffle": self.shuffle,
            "shuffle_buffer": self.shuffle_buffer,
            "files_sha256": _digest(self.files),
            # A running job's listing changes: the state keeps the one it read.
            "files": None if self.complete else list(self.files),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue where ``state`` was taken: same epoch, same files, next sample."""
        version = state.get("version")
        if version not in (1, STATE_VERSION):
            raise ReaderError(f"reader state version {version!r} is not 1 or {STATE_VERSION}")
        for key in ("seed", "shuffle", "shuffle_buffer"):
            if state[key] != getattr(self, key):
                raise ReaderError(
                    f"the state was taken with {key}={state[key]!r}, this reader has "
                    f"{getattr(self, key)!r}"
                )
        if state["files"] is not None:
            self.files = list(state["files"])
            self.complete = False
        if _digest(self.files) != state["files_sha256"]:
            raise ReaderError(
                f"{self.loc.display()}: the committed files differ from the state's "
                "(the output was rewritten since)"
            )
        shard = state["shard"]
        if version == 1 and shard and len(self.files) < shard["world_size"] * shard["num_workers"]:
            raise ReaderError(
                f"a reader state of version 1 over {len(self.files)} files for "
                f"{shard['world_size'] * shard['num_workers']} readers does not fit: these "
                "readers now split the files' rows; start the epoch again (set_epoch)"
            )
        self.epoch = int(state["epoch"])
        self.position = Position(**state["position"])
        self._state_shard = None if state["shard"] is None else Shard(**state["shard"])
