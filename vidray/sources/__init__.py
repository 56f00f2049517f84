"""The registry of sources: ``vidray convert SOURCE ...`` looks names up here.

Every module of this package that defines a ``Source`` subclass with a ``name`` is a
source; adding a dataset is adding a module.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from vidray.sources.annotations import AnnotationSource
from vidray.sources.base import Source, SourceContext

#: Modules every source shares, not sources themselves.
_SHARED = {"annotations", "base", "shards", "text", "videos"}


def _discover() -> dict[str, type[Source]]:
    found: dict[str, type[Source]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name in _SHARED:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Source)
                and cls.__module__ == module.__name__
                and not inspect.isabstract(cls)
            ):
                if cls.name in found:
                    raise RuntimeError(f"two sources named {cls.name!r}")
                found[cls.name] = cls
    return dict(sorted(found.items()))


REGISTRY: dict[str, type[Source]] = _discover()


class UnknownSource(KeyError):
    def __str__(self) -> str:
        return f"unknown source {self.args[0]!r}; known: {', '.join(sorted(REGISTRY))}"


def get(name: str, ctx: SourceContext | None = None) -> Source:
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise UnknownSource(name) from None
    return cls(ctx)


__all__ = ["REGISTRY", "AnnotationSource", "Source", "SourceContext", "UnknownSource", "get"]
