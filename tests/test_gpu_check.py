"""`make gpu-check` without a GPU: its dry run (the same code on the CPU at tiny sizes, the kernels under Triton's
interpreter, the compiled-code report from Triton's offline compiler) finishes, its kernels match the float64 loop,
and its record keeps the schema that the GPU run writes; the schema check itself rejects broken records."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatedrnn.instruments import speed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import gpu_check  # noqa: E402


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu") / "dry.json"
    environment = {**os.environ, "TQDM_DISABLE": "1"}
    environment.pop("TRITON_INTERPRET", None)
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--dry-run", "--out", str(out)],
                          env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())


def test_the_dry_run_keeps_the_schema_and_its_kernels_match_the_float64_loop(record):
    assert gpu_check.problems(record) == []
    assert record["environment"]["dry_run"] is True and record["environment"]["device"].startswith("cpu")
    kernels = record["kernels"]
    kinds = {(k, d) for k in ("LSTM", "GRU") for d in ("float32", "float64")}
    assert {(r["kind"], r["dtype"]) for r in kernels} == kinds
    for row in kernels:
        assert row["passed"] and row["identical_twice"], row
        assert set(row["relative_error"]) == {*gpu_check.NAMES[row["kind"]], "fused_grad_norms"}
        assert max(row["relative_error"].values()) <= row["tolerance"]


def test_the_dry_run_reports_each_compiled_kernel_and_times_each_way(record):
    compiled = [r for r in record["compiled"] if "registers" in r]
    assert len(compiled) == 4 * 2 * 2  # four kernels, two dtypes, one and sixteen rows a program
    assert all(0 < r["registers"] <= 255 and r["shared_bytes"] > 0 for r in compiled), compiled
    timed = {r["what"] for r in record["timings"] if "ms" in r}
    assert {"torch.nn", "loop", "MinGRU scan", "MinGRU log", "MinGRU sequential", "seeds one by one",
            "seeds together"} <= timed
    assert all(r["ms"] > 0 for r in record["timings"] if "ms" in r)


def test_a_chapter_runs_and_is_timed():
    (row,) = gpu_check.chapter_times(["introduction"], gpu_check.Budget(300))
    assert row["status"] == "passed" and row["seconds"] > 0, row
    (skipped,) = gpu_check.chapter_times(["introduction"], gpu_check.Budget(0))
    assert skipped == {"chapter": "introduction", "skipped": "time budget"}


def test_the_schema_check_names_what_is_broken(record):
    assert gpu_check.problems([]) == ["record: expected an object, got list"]
    broken = copy.deepcopy(record)
    del broken["timings"]
    assert gpu_check.problems(broken) == ["timings: expected <class 'list'>, got NoneType"]
    broken = copy.deepcopy(record)
    broken["schema"] = 0
    del broken["environment"]["commit"]
    del broken["kernels"][1]["passed"]  # a finished row without its outcome
    broken["compiled"][0].pop("registers")
    assert gpu_check.problems(broken) == [f"schema: expected {speed.GPU_RECORD_SCHEMA}, got 0", "environment: no commit",
                                          "kernels[1]: no passed", "compiled[0]: no registers"]


def test_records_are_named_after_the_device_and_the_day(record):
    named = copy.deepcopy(record)
    named["environment"] |= {"device": "NVIDIA H100 80GB HBM3", "date": "2026-12-06T18:00:00+00:00"}
    assert gpu_check.default_path(named) == ROOT / "measurements" / "gpu" / "nvidia-h100-80gb-hbm3-2026-12-06.json"
