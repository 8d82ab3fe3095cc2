"""gankit's pytest plugin: the ``gankit_check`` fixture for plugin authors' tests.

pytest loads it at start-up in every project where gankit is installed (the ``pytest11``
entry point ``gankit``), so a test can ask for ``gankit_check`` without importing it or
listing a ``pytest_plugins``. It imports only pytest: torch and the conformance kit
(:mod:`gankit.testing`) load when a test uses the fixture, so pytest starts as fast with
gankit installed as without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from .testing import Report


@pytest.fixture
def gankit_check(tmp_path: Path) -> Callable[..., "Report"]:
    """:func:`gankit.testing.check_domain` bound to the test's ``tmp_path``:
    ``gankit_check("toy2d", dataset="grid25", count=64)`` runs every check and returns the
    :class:`~gankit.testing.Report`."""

    def run(domain: str, model: str | None = None, dataset: str | None = None, **options: Any) -> "Report":
        from .testing import check_domain

        return check_domain(domain, model, dataset, tmp_path=tmp_path, **options)

    return run
