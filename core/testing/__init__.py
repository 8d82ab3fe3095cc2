"""A conformance kit for plugin authors: call it from your own tests.

    from gankit.testing import check_domain

    def test_my_domain(tmp_path):
        check_domain("toy2d", tmp_path=tmp_path)

:func:`check_domain` runs every check below on one domain/model/dataset, through the same
code paths users hit (the registry, ``gankit.train``, ``gankit.load``, the CLI), and raises
:class:`ConformanceError` (an ``AssertionError``) naming the check and what to fix; it stops
at the first failure. Each check is also a function of its own. :func:`check_objective` does
the same for an objective.

With pytest, :func:`parametrize_with_checks` makes one test per check instead (as
scikit-learn's ``parametrize_with_checks`` does for estimators), so one failing check hides
none of the others; the checks that need a trained run share one, trained once per domain
and options::

    from gankit.testing import parametrize_with_checks

    @parametrize_with_checks(domains=[("toy2d", "mlp", "ring8", {"count": 64})])
    def test_toy2d(check, tmp_path_factory):
        check(tmp_path_factory)

The ``gankit_check`` fixture is ``check_domain`` bound to the test's ``tmp_path``; gankit
registers it with pytest through a ``pytest11`` entry point (:mod:`gankit.pytest_plugin`),
so every project with gankit installed has it.

The kit checks what this process sees (:func:`gankit.registry.get_registry`): installed
entry points allowed by ``GANKIT_LOAD_PLUGINS`` plus plugins registered at run time.
"""

from __future__ import annotations

from .base import CHECKS, HEAVY_MODULES, ConformanceError, Report, plugin_registered
from .data import check_dataset
from .domain import check_domain
from .networks import check_aux_loss, check_model
from .objectives import check_objective
from .options import check_options
from .parametrize import DomainCheck, domain_checks, parametrize_with_checks
from .registration import check_registration_is_light
from .run import check_checkpoint, check_metrics, check_resume, check_samples, check_train_step

__all__ = ["CHECKS", "HEAVY_MODULES", "ConformanceError", "DomainCheck", "Report", "check_aux_loss", "check_checkpoint",
           "check_dataset", "check_domain", "check_metrics", "check_model", "check_objective", "check_options",
           "check_registration_is_light", "check_resume", "check_samples", "check_train_step", "domain_checks",
           "parametrize_with_checks", "plugin_registered"]
