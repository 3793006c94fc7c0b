import pytest
import torch


@pytest.fixture(autouse=True)
def _float64_and_one_thread():
    """Comparisons run in float64; the default dtype is restored after each test."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
