"""How an epoch is shared among the ``world_size * num_workers`` readers: which reader
this is, what it reads of each file, and where it is."""

from __future__ import annotations

import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Which reader of the ``world_size * num_workers`` this one is."""

    rank: int
    world_size: int
    worker_id: int
    num_workers: int

    @property
    def index(self) -> int:
        return self.rank * self.num_workers + self.worker_id

    @property
    def count(self) -> int:
        return self.world_size * self.num_workers


@dataclass(frozen=True)
class Part:
    """What a reader reads of one file: every row group (``groups`` None), or rows
    ``[start, stop)`` of some row groups, ``(row_group, start, stop)`` each, in order."""

    file: str
    groups: tuple[tuple[int, int, int], ...] | None = None


@dataclass(frozen=True)
class Position:
    """Where a reader is in its epoch: the block it is in, where that block starts
    (index in the reader's parts, index in the part's row groups, sample within the
    row group's samples) and how many of the block's samples were yielded."""

    block: int = 0
    file: int = 0
    row_group: int = 0
    sample: int = 0
    in_block: int = 0


def _replace_in_block(pos: Position, in_block: int) -> Position:
    return Position(pos.block, pos.file, pos.row_group, pos.sample, in_block)


def deal_files(files: list[str], shard: Shard) -> list[Part]:
    """Whole files, round-robin: reader ``shard.index`` takes every ``shard.count``-th."""
    return [Part(rel) for rel in files[shard.index :: shard.count]]


def split_rows(groups: list[tuple[str, int, int]], count: int) -> list[list[Part]]:
    """The rows of ``groups`` (``(file, row_group, rows)`` in reading order), laid end to
    end and cut into ``count`` runs that differ by at most one row: reader ``i`` takes
    rows ``[i * N // count, (i + 1) * N // count)`` of the ``N``. A row group across a cut
    goes to both readers, each with its rows; consecutive row groups of one file make one
    part."""
    total = sum(rows for _, _, rows in groups)
    cuts = [i * total // count for i in range(count + 1)]
    shares: list[list[Part]] = []
    for lo, hi in itertools.pairwise(cuts):
        parts: list[Part] = []
        offset = 0
        for rel, rg, rows in groups:
            start, stop = max(lo, offset) - offset, min(hi, offset + rows) - offset
            offset += rows
            if start >= stop:
                continue
            if parts and parts[-1].file == rel:
                parts[-1] = Part(rel, (*(parts[-1].groups or ()), (rg, start, stop)))
            else:
                parts.append(Part(rel, ((rg, start, stop),)))
        shares.append(parts)
    return shares


def part_rows(part: Part) -> int:
    """Rows of a part of ``split_rows`` (not of a whole file: its row groups are unread)."""
    return sum(stop - start for _, start, stop in part.groups or ())
