"""Where and how big the book's computations run: device, profile, seeds, and a report of the environment.

Environment variables (read at each call, so a notebook may change them):

* ``GATEDRNN_DEVICE``: ``cpu``, ``cuda`` or ``cuda:N``; default CUDA when available, else the CPU.
* ``GATEDRNN_PROFILE``: ``quick`` or ``full``; default ``full`` on CUDA, ``quick`` otherwise.
"""

from __future__ import annotations

import os
import platform
import random
from typing import TypeVar

import numpy as np
import torch

PROFILES = ("quick", "full")
T = TypeVar("T")


def device() -> torch.device:
    """The device the book's experiments run on: ``$GATEDRNN_DEVICE`` if set, else CUDA when available, else CPU."""
    name = os.environ.get("GATEDRNN_DEVICE", "").strip()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"GATEDRNN_DEVICE: expected 'cpu', 'cuda' or 'cuda:N', got {name!r}") from err
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"GATEDRNN_DEVICE: {name!r} was asked for, but torch sees no CUDA device")
    return chosen


def profile() -> str:
    """The experiment size, ``"quick"`` or ``"full"``: ``$GATEDRNN_PROFILE``, else full on CUDA and quick otherwise."""
    name = os.environ.get("GATEDRNN_PROFILE", "").strip().lower()
    if not name:
        return "full" if device().type == "cuda" else "quick"
    if name not in PROFILES:
        raise ValueError(f"GATEDRNN_PROFILE: expected one of {PROFILES}, got {name!r}")
    return name


def by_profile(*, quick: T, full: T) -> T:
    """Pick the value for the current profile, e.g. ``steps = by_profile(quick=200, full=5000)``."""
    return quick if profile() == "quick" else full


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (every CUDA device included) with ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def environment() -> dict[str, str]:
    """What a result was computed on: device (with the GPU's name), profile, torch, Python and CPU count."""
    dev = device()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    return {
        "device": f"{dev.type} ({name})",
        "profile": profile(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu cores": str(os.cpu_count()),
    }


def describe_environment() -> str:
    """:func:`environment` as one short line, for the top of each chapter."""
    env = environment()
    return (
        f"{env['device']}, {env['profile']} profile, torch {env['torch']}, "
        f"Python {env['python']}, {env['cpu cores']} CPU cores"
    )
