"""Shared fixtures. The suite runs once per Keras backend (see ./dev test).

The helpers live in `testing.py` (import them from there); they are
re-exported here for the modules that still do `from conftest import ...`.
"""

import pytest

from testing import BACKEND  # noqa: F401
from testing import ROOT  # noqa: F401
from testing import load_digits
from testing import run_backend  # noqa: F401
from testing import tiny_model  # noqa: F401
from testing import variable_value  # noqa: F401


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled 8x8 digits as float32 images in [0, 1]."""
    return load_digits()
