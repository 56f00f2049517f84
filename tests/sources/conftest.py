"""The per-source harness: every fixture dataset built once per session (shared by
``test_source_fixtures.py`` and the ``test_source_<name>.py`` modules), and for a module
that declares ``SOURCE = "<name>"``: ``fixture`` (that shared ``(root, Expected)``, not to
be written to), ``fresh`` (a private copy built for the test, free to change) and ``harness``
(:class:`tests.helpers.datasets.Harness` for the source).

A new source is its adapter (``vidray/sources/<name>.py``) and its fixture builder
(``tests/helpers/datasets/<name>.py``, ``build(root) -> Expected``): ``test_source_fixtures.py``
converts that fixture with Ray from local disk and S3 and holds the output to ``Expected``
and to ``check_rows``. Only the source's own quirks need a ``test_source_<name>.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.datasets import Expected, Harness, builders

BUILDERS = builders()


@pytest.fixture(scope="session")
def built_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], tuple[Path, Expected]]:
    """Source name -> its fixture ``(root, Expected)``, built on first use."""
    cache: dict[str, tuple[Path, Expected]] = {}

    def get(name: str) -> tuple[Path, Expected]:
        if name not in cache:
            root = tmp_path_factory.mktemp(f"fixture-{name}")
            cache[name] = (root, BUILDERS[name](root))
        return cache[name]

    return get


def module_source(request: pytest.FixtureRequest) -> str:
    name = getattr(request.module, "SOURCE", None)
    assert name in BUILDERS, f"{request.module.__name__} must set SOURCE to a fixture's name"
    return name


@pytest.fixture
def fixture(request: pytest.FixtureRequest, built_fixture) -> tuple[Path, Expected]:
    """The session's build of the module's ``SOURCE`` fixture: read it, never write it."""
    return built_fixture(module_source(request))


@pytest.fixture
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Expected]:
    """The module's ``SOURCE`` fixture built for this test alone (``tmp_path/fixture``)."""
    root = tmp_path / "fixture"
    root.mkdir()
    return root, BUILDERS[module_source(request)](root)


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(module_source(request))


@pytest.fixture
def root(fixture: tuple[Path, Expected]) -> Path:
    """The root of ``fixture`` (read it, never write it)."""
    return fixture[0]
