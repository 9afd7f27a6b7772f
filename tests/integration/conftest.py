"""The real chart every deploy test installs: `chart_version` (the newest unless a test parametrizes
it, see deploy_helpers.BOTH_CHARTS), `chart` (that version as the 1.20 test API server may take it),
`cli` (vllmctl bound to the test's directory, namespace and chart)."""

from __future__ import annotations

import pytest

from tests.integration.deploy_helpers import NEWEST_CHART, Cli
from tests.integration.extra_nodes import extra_nodes  # noqa: F401 (a fixture for this directory)


@pytest.fixture
def chart_version() -> str:
    return NEWEST_CHART


@pytest.fixture
def chart(test_server_chart, chart_version):
    return test_server_chart(chart_version)


@pytest.fixture
def cli(tmp_path, kube_env, namespace, chart) -> Cli:
    return Cli(tmp_path, kube_env, namespace, chart)
