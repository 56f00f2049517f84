"""The registry of sources: ``vidray convert SOURCE ...`` looks names up here."""

from __future__ import annotations

from vidray.sources.base import Source, SourceContext
from vidray.sources.finevideo import FineVideo
from vidray.sources.webvid import WebVid

REGISTRY: dict[str, type[Source]] = {cls.name: cls for cls in (WebVid, FineVideo)}


class UnknownSource(KeyError):
    def __str__(self) -> str:
        return f"unknown source {self.args[0]!r}; known: {', '.join(sorted(REGISTRY))}"


def get(name: str, ctx: SourceContext | None = None) -> Source:
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise UnknownSource(name) from None
    return cls(ctx)


__all__ = ["REGISTRY", "Source", "SourceContext", "UnknownSource", "get"]
