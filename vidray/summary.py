"""What a conversion did: counts, timings and the committed manifest, as the CLI
prints it and progress shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidray import output


@dataclass
class Summary:
    output: str
    samples: int = 0
    rows: int = 0
    frames: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    units: int = 0
    #: Units an earlier run of the same command had committed (not redone).
    resumed_units: int = 0
    elapsed_s: float = 0.0
    #: Seconds until the first unit was done: start-up (worker processes, imports) plus one unit.
    first_unit_s: float = 0.0
    first_unit_samples: int = 0
    #: Units whose shard's last unit is done: ``shards_done`` of ``shards`` are finished.
    shards: int = 0
    shards_done: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)
    #: Annotation-type files in INPUT that the source does not read (not silently lost).
    skipped_files: list[str] = field(default_factory=list)
    #: OUTPUT was already complete for this command: nothing ran, counts are its marker's.
    already_complete: bool = False
    #: Samples by the decoder that made their frames, and why samples went to the CPU
    #: when ``--decoder`` was not ``cpu``.
    decoders: dict[str, int] = field(default_factory=dict)
    cpu_reasons: dict[str, int] = field(default_factory=dict)
    #: Samples by the worker group (``cpu``, ``gpu``) whose tasks converted them.
    groups: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of_manifest(cls, output: str, manifest: dict[str, Any]) -> Summary:
        counts = manifest["counts"]
        return cls(
            output=output,
            samples=counts["samples"],
            rows=counts["rows"],
            frames=counts["frames"],
            errors=dict(counts["errors_by_reason"]),
            decoders=dict(counts.get("decoders", {})),
            cpu_reasons=dict(counts.get("cpu_reasons", {})),
            groups=dict(counts.get("groups", {})),
            units=counts["units"],
            manifest=manifest,
            skipped_files=manifest.get("skipped_files", {}).get("files", []),
            already_complete=True,
        )

    def count(self, totals: output.Totals) -> None:
        """Take the counts of the units this run converted so far."""
        self.samples, self.rows, self.frames = totals.samples, totals.rows, totals.frames
        self.units = totals.units
        self.errors = dict(totals.errors)
        self.decoders = dict(totals.decoders)
        self.cpu_reasons = dict(totals.cpu_reasons)
        self.groups = dict(totals.groups)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def steady_samples_per_s(self) -> float:
        """Rate after the first unit, i.e. without the pipeline's start-up."""
        span = self.elapsed_s - self.first_unit_s
        rest = self.samples - self.first_unit_samples
        return rest / span if span > 0 and rest > 0 else self.samples_per_s

    def describe(self) -> str:
        # A resumed run counts the output in all (its commit's counts), its own share beside.
        whole = self
        if self.resumed_units and not self.already_complete and "counts" in self.manifest:
            whole = Summary.of_manifest(self.output, self.manifest)
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(whole.errors.items())) or "none"
        counts = f"{whole.samples} samples -> {whole.rows} rows"
        if whole is not self:
            counts += (
                f" in all ({self.samples} this run, {self.resumed_units} units committed earlier)"
            )
        counts += f", {whole.frames} frames, {whole.error_count} errors ({reasons})"
        skipped = ""
        if whole.cpu_reasons or set(whole.decoders) - {"cpu"}:
            by = ", ".join(f"{k}={v}" for k, v in sorted(whole.decoders.items()))
            why = ", ".join(f"{k}={v}" for k, v in sorted(whole.cpu_reasons.items()))
            counts += f"; decoded by {by}" + (f" (on the CPU: {why})" if why else "")
        if set(whole.groups) - {"cpu"}:
            on = ", ".join(f"{k}={v}" for k, v in sorted(whole.groups.items()))
            counts += f"; on {on} workers"
        if self.skipped_files:
            names = ", ".join(self.skipped_files[:3])
            more = ", ..." if len(self.skipped_files) > 3 else ""
            skipped = f"; {len(self.skipped_files)} annotation files not read ({names}{more})"
        if self.already_complete:
            return (
                f"already complete: {counts}, committed {self.manifest.get('committed_at')}"
                f"{skipped}; output: {self.output} (nothing to do; --overwrite redoes it)"
            )
        took = f"in {self.elapsed_s:.1f} s ({self.samples_per_s:.1f} clips/s)"
        took = f"; this run {took}" if whole is not self else f" {took}"
        return f"{counts}{took}{skipped}; output: {self.output}"
