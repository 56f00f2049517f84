"""A streaming reader of an OUTPUT for trainers: one sample per conversation.

``VidrayReader(OUTPUT)`` iterates the committed data files of an output (local,
``file://`` or ``s3://``), one Parquet row group at a time, and yields one sample per
conversation (question) in either layout (``rows`` or ``clips``). It is a PyTorch
``IterableDataset`` when torch is importable, a plain iterable otherwise.

Sharding is by file: an epoch's files (shuffled by ``seed`` and epoch) are dealt
round-robin to the ``world_size * num_workers`` readers, reader ``rank * num_workers +
worker_id`` taking every n-th. With fewer files than readers, whole files would leave
readers with nothing (a DDP rank without batches waits on the others for ever), so the
rows are split instead: the epoch's row groups (shuffled) are laid end to end and cut
into one even run of rows per reader (``split_rows``); a row group at a cut is read by
both its readers, each keeping its rows. Inside a reader, samples are shuffled in blocks of
``shuffle_buffer`` samples: a block is read whole, then yielded in a permutation drawn
from (seed, epoch, reader, block). That is Mosaic streaming's shuffle-block scheme, chosen
over a sliding buffer (Hugging Face ``datasets``) because it makes the position exact:
a state is (epoch, the file, row group and sample where the current block starts, the
samples of the block already yielded), so a restart re-reads at most one block and
neither repeats nor skips a sample. (``datasets`` restores a shuffled stream without the
buffer's content and refills it; huggingface/datasets#7444.)

    parts        which reader this is (Shard), what it reads (Part), where it is
                 (Position): files dealt round-robin, rows split evenly
    distributed  torch: the base class, rank and DataLoader worker discovery, rank 0's
                 file list
    frames       JPEG frames as bytes, PIL images or arrays
    dataset      VidrayReader: the epoch's parts, the shuffle blocks, the state
    files        a file's row groups' rows; parquet_files, the committed files for Ray
                 Train or pyarrow

This package re-exports their public names.
"""

from __future__ import annotations

from vidray.reader.dataset import STATE_VERSION, ReaderError, VidrayReader
from vidray.reader.files import parquet_files
from vidray.reader.frames import FRAME_MODES, FrameMode, decode_frames
from vidray.reader.parts import Part, Position, Shard, deal_files, part_rows, split_rows

__all__ = [
    "FRAME_MODES",
    "STATE_VERSION",
    "FrameMode",
    "Part",
    "Position",
    "ReaderError",
    "Shard",
    "VidrayReader",
    "deal_files",
    "decode_frames",
    "parquet_files",
    "part_rows",
    "split_rows",
]
