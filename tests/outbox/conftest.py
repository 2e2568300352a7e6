"""Rich assertion messages from the shared checks in helpers.py too."""

import pytest

pytest.register_assert_rewrite("tests.outbox.helpers")
