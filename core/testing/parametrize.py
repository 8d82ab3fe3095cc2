"""One test per check (pytest): :class:`DomainCheck`, :func:`domain_checks` and
:func:`parametrize_with_checks`; checks of one domain and options share one subject."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..registry import get_registry
from .base import CHECKS, DOMAIN_KEYWORDS, _Unmet
from .domain import _known_checks, _Subject

if TYPE_CHECKING:  # pragma: no cover
    import pytest


@dataclass(frozen=True, eq=False)
class DomainCheck:
    """One check of one domain/model/dataset, as :func:`parametrize_with_checks` hands it to
    a test: call it with pytest's ``tmp_path_factory``. Checks of the same domain, model,
    dataset and options share one dataset and one trained run (the first check that needs
    the run trains it); a check whose prerequisite failed is skipped (that failure is the
    other check's test), as is one the caller skipped or one that does not apply."""

    domain: str
    model: str | None
    dataset: str | None
    check: str
    options: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    def __call__(self, tmp: Any) -> None:
        """Run the check. ``tmp`` is pytest's ``tmp_path_factory`` (the run is shared by every
        check of the session) or a folder (shared by the checks given the same folder)."""
        import pytest

        subject = _subject_for(self, tmp)
        reason = subject.not_applicable(self.check)
        if reason:
            pytest.skip(reason)
        try:
            subject.run(self.check)
        except _Unmet as exc:
            pytest.skip(str(exc))

    def __repr__(self) -> str:
        return f"DomainCheck({self.id or self.check!r})"


_SUBJECTS: dict[tuple[Any, ...], _Subject] = {}


def _subject_for(check: DomainCheck, tmp: Any) -> _Subject:
    keywords = {k: v for k, v in check.options.items() if k in DOMAIN_KEYWORDS}
    options = {k: v for k, v in check.options.items() if k not in DOMAIN_KEYWORDS}
    factory = hasattr(tmp, "mktemp") and hasattr(tmp, "getbasetemp")
    base = Path(tmp.getbasetemp() if factory else tmp)
    key = (str(base), check.domain, check.model, check.dataset, repr(sorted(check.options.items(), key=str)))
    subject = _SUBJECTS.get(key)
    if subject is None:
        folder = tmp.mktemp(f"gankit-{check.domain}") if factory else base
        subject = _Subject(check.domain, check.model, check.dataset, tmp=folder, options=options, **keywords)
        _SUBJECTS[key] = subject
    return subject


def domain_checks(
    domains: Iterable[str | Sequence[Any]],
    *,
    skip: Sequence[str] = (),
    ids: Sequence[str] | None = None,
) -> list[DomainCheck]:
    """Every check of every domain, one :class:`DomainCheck` each, in the order of
    :data:`CHECKS`. An entry of ``domains`` is a domain name or a tuple
    ``(domain, model, dataset, options)`` (trailing items optional, None for the domain's
    default); ``options`` holds what :func:`check_domain` takes besides ``tmp_path``:
    model, dataset and training options, and ``data``, ``steps``, ``batch_size``, ``skip``,
    ``heavy``. ``skip`` names checks left out for every domain. A check's id is
    ``DOMAIN-MODEL-DATASET::CHECK``, or ``ID::CHECK`` with ``ids`` (one per entry); a
    repeated ``DOMAIN-MODEL-DATASET`` gets ``-2``, ``-3``, ..."""
    _known_checks(skip)
    entries = [(entry,) if isinstance(entry, str) else tuple(entry) for entry in domains]
    if ids is not None and len(ids) != len(entries):
        raise ValueError(f"ids names {len(ids)} entries, but domains has {len(entries)}")
    checks, seen = [], {}
    for index, entry in enumerate(entries):
        if not 1 <= len(entry) <= 4:
            raise ValueError(f"a domains entry is DOMAIN or (DOMAIN, MODEL, DATASET, OPTIONS), got {entry!r}")
        domain, model, dataset, options = (*entry, *(None,) * (4 - len(entry)))
        options = dict(options or {})
        skips = set(options.get("skip", ())) | set(skip)
        _known_checks(skips)
        if skips:
            options["skip"] = tuple(name for name in CHECKS if name in skips)
        if ids is not None:
            base = ids[index]
        else:
            base = f"{domain}-{_default_name(domain, 'model', model)}-{_default_name(domain, 'dataset', dataset)}"
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            base = f"{base}-{seen[base]}"
        checks += [DomainCheck(domain, model, dataset, name, options, f"{base}::{name}") for name in CHECKS]
    return checks


def _default_name(domain: str, kind: str, name: str | None) -> str:
    """``name``, or the domain's default model/dataset when it is registered already (when
    tests are collected), else ``default``."""
    if name:
        return name
    try:
        spec = get_registry().domains.get(domain)
    except Exception:  # a broken environment fails in the checks, with a message; not while collecting
        spec = None
    return getattr(spec, f"default_{kind}") if spec is not None else "default"


def parametrize_with_checks(
    domains: Iterable[str | Sequence[Any]],
    *,
    skip: Sequence[str] = (),
    ids: Sequence[str] | None = None,
) -> "pytest.MarkDecorator":
    """A ``pytest.mark.parametrize`` decorator giving the test one case per check of each
    entry of ``domains`` (see :func:`domain_checks`), as the argument ``check``; the test
    calls ``check(tmp_path_factory)``::

        @parametrize_with_checks(domains=[("toy2d", "mlp", "ring8", {"count": 64})])
        def test_toy2d(check, tmp_path_factory):
            check(tmp_path_factory)

    The ids read ``toy2d-mlp-ring8::dataset``, so ``-k "toy2d and model"`` picks one.
    """
    import pytest

    checks = domain_checks(domains, skip=skip, ids=ids)
    return pytest.mark.parametrize("check", checks, ids=[check.id for check in checks])
