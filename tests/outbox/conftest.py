"""Fixtures of the outbox tests; rich assertion messages from helpers.py too."""

import pytest

pytest.register_assert_rewrite("tests.outbox.helpers")

from tests.outbox.helpers import add_answerable_reports  # noqa: E402 (after the rewrite hook)


@pytest.fixture
def reports(engine):
    """Reports to answer, on SQLite and PostgreSQL: for what depends on the store."""
    return add_answerable_reports(engine)


@pytest.fixture
def local(sqlite_engine):
    """Reports to answer, on SQLite only: for input checks that do not depend on the store."""
    return add_answerable_reports(sqlite_engine)
