"""`make gpu-check`: the book's GPU code checked and timed in one command of a few minutes on one GPU, recorded in
``measurements/gpu/<device>-<date>.json``.

    python tools/gpu_check.py [--dry-run] [--out FILE] [--budget SECONDS] [--chapters NAME,...]

1. **Kernels.** The fused layers of :mod:`gatedrnn.nn.kernels`, compiled (not interpreted), at sizes the CPU tests
   never reach: the outputs, every gradient and ``fused_grad_norms`` against the package's float64 loop, and each
   call run twice and compared bit for bit (a race between threads shows as a difference).
2. **Compiled code.** What ptxas says of each kernel compiled for the GPU's architecture (sm_90 in a dry run):
   registers, spilled bytes and shared memory, at one and at sixteen batch rows a program. Triton compiles for a
   target without the GPU, so this section also runs on a CPU.
3. **Times** of forward and backward: the kernel, ``torch.nn`` (cuDNN with TF32 and with IEEE float32, which is
   what the loop and the kernel compute), the package's loop, and ``torch.compile`` of it (default, and
   "reduce-overhead", i.e. CUDA graphs); seeds trained together against one by one; the MinGRU's scan modes
   against its loop at long sequences. On a GPU with ``triton.testing.do_bench``; on a CPU with
   :func:`gatedrnn.instruments.cost.fastest_seconds`.
4. **Chapters.** The full profile's wall time of each chapter named (by default every chapter but the instructor
   guide, which needs the built assignments), one after another, until the time budget is spent.

Every section stops when ``--budget`` (360 s by default, which leaves room within a device call of ten minutes)
is spent and records what it skipped, and the record is written after each section, so that a run cut short
still leaves what it measured. The compiled-code report runs beside the GPU sections, in a process of its own.

``--dry-run`` runs the same code on the CPU at tiny sizes, the kernels under Triton's interpreter and no chapter,
so that ``make test`` checks the command and the schema of its record (:func:`problems`) without a GPU.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (T, N, H, dtype): one row and one unit; odd sizes with masked tails; the widest H in float64; the widest in
# float32 at a long T; and a long sequence
KERNEL_SIZES = [(7, 1, 1, "float64"), (33, 37, 257, "float64"), (17, 130, 512, "float64"), (200, 64, 512, "float32"),
                (2048, 16, 64, "float32"), (33, 1000, 64, "float32"), (9, 530, 257, "float64")]
TIMING_SIZES = [(100, 64, 128), (100, 64, 512), (500, 64, 128), (100, 1024, 128)]
SCAN_LENGTHS = (4096, 65536)
COMPILED_HIDDEN = (64, 128, 256, 512)
DRY = {"kernels": [(7, 1, 1, "float64"), (5, 3, 6, "float32"), (4, 19, 3, "float64")], "timings": [(10, 4, 8)],
       "scan": (64,), "compiled": (16,), "seeds": (2, 3)}
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}  # largest error relative to the largest reference value
INPUT_SIZE = 8


class Budget:
    """Seconds left of the run's time limit."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def environment(device, dry_run: bool) -> dict:
    import torch
    import triton

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = os.environ.get("GATEDRNN_COMMIT", "unknown")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})"
    return {"device": name, "dry_run": dry_run, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "commit": commit, "torch": torch.__version__, "triton": triton.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "python": platform.python_version()}


# ---- 1. kernels against the float64 loop --------------------------------------------------------------------------
def _fused_run(kernels, rnn, x, hx, weights):
    """Output, final state, every gradient and the norms of the fused layer with ``rnn``'s parameters."""
    params = [p.detach().clone().requires_grad_() for p in rnn.layer_parameters(0)[:4]]
    x = x.detach().clone().requires_grad_()
    states = [s[0].detach().clone().requires_grad_() for s in hx]
    norms = params[1].new_zeros(x.shape[0])
    layer = kernels.lstm_layer if len(states) == 2 else kernels.gru_layer
    output, final = layer(x, *params, *states, grad_norms=norms)
    final = final if isinstance(final, tuple) else (final,)
    ((output * weights).sum() + final[0].sum()).backward()
    return [output.detach(), *(f.detach() for f in final), x.grad, *(p.grad for p in params),
            *(s.grad for s in states), norms]


def _reference_run(gatedrnn, rnn, x, hx, weights):
    """The same quantities from the package's float64 loop (autograd at every step) and its gradient instrument."""
    import torch

    x = x.detach().clone().requires_grad_()
    states = tuple(s.detach().clone().requires_grad_() for s in hx)
    output, final = rnn(x, states if len(states) == 2 else states[0])
    final = final if isinstance(final, tuple) else (final,)
    params = list(rnn.layer_parameters(0)[:4])
    loss = (output * weights).sum() + final[0].sum()  # h_n = output[-1]: its share reaches ∂L/∂h_{T-1}
    grads = torch.autograd.grad(loss, [x, *params, *states])
    norms = gatedrnn.grad_norms_through_time(rnn, x.detach(), lambda out: (out * weights).sum() + out[-1].sum(),
                                             tuple(s.detach() for s in states) if len(states) == 2 else states[0])
    return [output.detach(), *(f.detach()[0] for f in final), *grads[:5], *(g[0] for g in grads[5:]), norms]


NAMES = {"LSTM": ["output", "h_n", "c_n", "grad input", "grad weight_ih", "grad weight_hh", "grad bias_ih",
                  "grad bias_hh", "grad h_0", "grad c_0", "grad norms"],
         "GRU": ["output", "h_n", "grad input", "grad weight_ih", "grad weight_hh", "grad bias_ih", "grad bias_hh",
                 "grad h_0", "grad norms"]}


def kernel_checks(sizes, device, budget: Budget) -> list[dict]:
    import torch

    import gatedrnn
    from gatedrnn.nn import kernels

    rows = []
    for kind in ("LSTM", "GRU"):
        for T, N, H, dtype_name in sizes:
            if budget.left() <= 0:
                rows.append({"kind": kind, "T": T, "N": N, "H": H, "dtype": dtype_name, "skipped": "time budget"})
                continue
            dtype = getattr(torch, dtype_name)
            torch.manual_seed(T * 1000 + H)
            rnn = getattr(gatedrnn, kind)(INPUT_SIZE, H, dtype=torch.float64, device=device)
            x = torch.randn(T, N, INPUT_SIZE, dtype=torch.float64, device=device)
            weights = torch.randn(T, N, H, dtype=torch.float64, device=device)
            hx = tuple(torch.randn(1, N, H, dtype=torch.float64, device=device) for _ in range(len(rnn.state_names)))
            row = {"kind": kind, "T": T, "N": N, "H": H, "dtype": dtype_name,
                   "rows_per_program": kernels.rows_per_program(N, kernels.multiprocessors(device))}
            try:
                want = _reference_run(gatedrnn, rnn, x, hx, weights)
                low = copy.deepcopy(rnn).to(dtype)
                low_hx = tuple(s.to(dtype) for s in hx)
                runs = [_fused_run(kernels, low, x.to(dtype), low_hx, weights.to(dtype)) for _ in range(2)]
                loss = lambda output: (output * weights.to(dtype)).sum() + output[-1].sum()  # noqa: E731
                runs[0].append(kernels.fused_grad_norms(low, x.to(dtype), loss, low_hx if len(hx) == 2 else low_hx[0]))
                want.append(want[-1])
            except Exception as error:  # a kernel that fails to compile or launch is a finding: recorded
                rows.append(row | {"error": f"{type(error).__name__}: {str(error)[:500]}"})
                continue
            errors = {name: float((got.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-300))
                      for name, got, ref in zip(NAMES[kind] + ["fused_grad_norms"], runs[0], want)}
            identical = all(torch.equal(a, b) for a, b in zip(runs[0][:-1], runs[1]))
            rows.append(row | {"relative_error": errors, "tolerance": TOLERANCE[dtype_name],
                               "identical_twice": identical,
                               "passed": identical and max(errors.values()) <= TOLERANCE[dtype_name]})
    return rows


# ---- 2. what ptxas says of each kernel ----------------------------------------------------------------------------
def start_compile_report(hiddens, capability: tuple[int, int], seconds: float) -> tuple[subprocess.Popen, float, str]:
    """Start :func:`compile_report` in a process of its own, where the kernels are compiled, not interpreted (Triton
    chooses for each kernel when it is first imported, and a dry run interprets them). It needs no GPU, so it runs
    beside the GPU sections; :func:`finish_compile_report` collects it."""
    environment = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    # a cache of its own: a kernel found in Triton's cache is not compiled again, and ptxas would report nothing
    environment["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="gpu-check-triton-")
    request = json.dumps({"hiddens": list(hiddens), "capability": list(capability), "seconds": seconds})
    process = subprocess.Popen([sys.executable, __file__, "--compile-report", request], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, time.monotonic() + seconds + 60, environment["TRITON_CACHE_DIR"]


def finish_compile_report(job: tuple[subprocess.Popen, float, str], hiddens) -> list[dict]:
    process, deadline, cache = job
    try:
        out, err = process.communicate(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return [{"kernel": "all", "H": h, "dtype": "all", "rows_per_program": "all", "skipped": "time budget"}
                for h in hiddens]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if process.returncode != 0:
        return [{"kernel": "all", "H": h, "dtype": "all", "rows_per_program": "all", "error": err[-500:]}
                for h in hiddens]
    return json.loads(out)


def compile_report(hiddens, capability: tuple[int, int], budget: Budget) -> list[dict]:
    """Registers, spills and shared memory of every kernel, compiled for ``capability`` without running it, as the
    ptxas of Triton's own compilation reports them (with Triton's flags; a launch also specialises on pointer
    alignment, which this compilation does not assume, so the launched code may differ slightly)."""
    import contextlib
    import io

    import triton
    from triton import knobs
    from triton.backends.compiler import GPUTarget

    from gatedrnn.nn import kernels

    knobs.nvidia.dump_ptxas_log = True  # Triton prints ptxas's own -v report of each compilation
    target = GPUTarget("cuda", capability[0] * 10 + capability[1], 32)
    rows = []
    for H in hiddens:
        for dtype in ("fp32", "fp64"):
            for block_n in (1, kernels.MAX_BLOCK_N):
                for name, kernel in kernels.KERNELS.items():
                    row = {"kernel": name, "H": H, "dtype": dtype, "rows_per_program": block_n}
                    if budget.left() <= 0:
                        rows.append(row | {"skipped": "time budget"})
                        continue
                    blocks = kernels.block_sizes(H, block_n)
                    signature = {arg: "constexpr" if arg.startswith("BLOCK") else "i32" if not arg.endswith("_ptr")
                                 else "*fp64" if arg == "sq_ptr" else f"*{dtype}" for arg in kernel.arg_names}
                    source = triton.compiler.ASTSource(fn=kernel, signature=signature, constexprs={
                        "BLOCK_N": block_n, "BLOCK_H": blocks["BLOCK_H"], "BLOCK_K": blocks["BLOCK_K"]})
                    log = io.StringIO()
                    with contextlib.redirect_stdout(log):
                        binary = triton.compile(source, target=target, options={"num_warps": blocks["num_warps"]})
                    text = log.getvalue()
                    rows.append(row | {"warps": blocks["num_warps"],
                                       "registers": int(re.search(r"Used (\d+) registers", text)[1]),
                                       "spill_bytes": int(re.search(r"(\d+) bytes spill stores", text)[1]),
                                       "shared_bytes": int(binary.metadata.shared)})
    return rows


# ---- 3. times -----------------------------------------------------------------------------------------------------
def _seconds(step, device, grads=None) -> float:
    """Seconds of one call of ``step``: do_bench on a GPU (CUDA events, L2 flushed; ``grads``, the tensors whose
    gradients it resets between calls), else the fastest round."""
    if device.type == "cuda":
        import triton.testing

        return triton.testing.do_bench(step, warmup=10, rep=50, grad_to_none=grads) / 1e3
    from gatedrnn.instruments import cost

    return cost.fastest_seconds({"step": step}, device=device, rounds=2, repeats=2, warmups=1)["step"]


def _synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _forward_backward(module, x):
    def step():
        output, _ = module(x)
        output.sum().backward()
    return step


def timings(sizes, scan_lengths, seeds, device, budget: Budget) -> list[dict]:
    import torch

    import gatedrnn
    from gatedrnn.experiments import benchmarks, training
    from gatedrnn.nn import kernels, minimal

    rows = []

    def measure(what: str, step, grads=None, reserve: float = 0.0, **size) -> None:
        row = {"what": what} | size
        if budget.left() <= reserve:
            rows.append(row | {"skipped": "time budget"})
            return
        try:
            rows.append(row | {"ms": 1e3 * _seconds(step, device, grads)})
        except Exception as error:  # a failure to compile or run is a finding: recorded, and the run goes on
            rows.append(row | {"error": f"{type(error).__name__}: {str(error)[:300]}"})

    for kind in ("LSTM", "GRU"):
        for T, N, H in sizes:
            size = {"kind": kind, "T": T, "N": N, "H": H}
            torch.manual_seed(0)
            x = torch.randn(T, N, H, device=device)
            loop = getattr(gatedrnn, kind)(H, H, device=device)
            fused = getattr(torch.nn, kind)(H, H, device=device)
            if device.type == "cuda":  # the kernel, compiled; on a CPU only its interpreter runs, not worth timing
                p = loop.layer_parameters(0)
                layer = kernels.lstm_layer if kind == "LSTM" else kernels.gru_layer
                measure("kernel", lambda: layer(x, *p[:4])[0].sum().backward(), list(loop.parameters()), **size)
                for precision in ("tf32", "ieee"):
                    torch.backends.cudnn.rnn.fp32_precision = precision
                    measure(f"torch.nn (cuDNN, {precision})", _forward_backward(fused, x), list(fused.parameters()),
                            **size)
                torch.backends.cudnn.rnn.fp32_precision = "tf32"  # PyTorch's default
            else:
                measure("torch.nn", _forward_backward(fused, x), **size)
            measure("loop", _forward_backward(loop, x), list(loop.parameters()), **size)
            if (T, N, H) == tuple(sizes[0]):  # compiling unrolls every step: once, at the first size
                for mode in ("default", "reduce-overhead"):
                    if device.type != "cuda":  # minutes of C++ compilation on a CPU, and no CUDA graphs
                        rows.append({"what": f"torch.compile ({mode})"} | size | {"skipped": "GPU only"})
                        continue
                    compiled = torch.compile(loop, mode=mode)
                    # a cold compilation of T unrolled steps happens inside the first calls, where no budget
                    # check reaches: begun only with two minutes in hand
                    measure(f"torch.compile ({mode})", _forward_backward(compiled, x), list(loop.parameters()),
                            reserve=120, **size)
    for T in scan_lengths:
        torch.manual_seed(0)
        model = minimal.MinGRU(64, 64, device=device)
        x = torch.randn(T, 16, 64, device=device)
        for mode in minimal.MODES:
            if mode == "sequential" and T > min(scan_lengths):
                continue  # T launches a step: minutes at the longest length, and the shortest shows the ratio
            measure(f"MinGRU {mode}", lambda: model(x, mode=mode)[0].sum().backward(), kind="MinGRU", T=T, N=16,
                    H=64)
    steps, count = (100, 10) if device.type == "cuda" else seeds
    bench = benchmarks.adding(50, 32, test_size=1000 if device.type == "cuda" else 64, device=device)
    for kind in ("LSTM", "GRU"):
        layer = lambda inputs, kind=kind: getattr(gatedrnn, kind)(inputs, 32, device=device)  # noqa: E731
        for way, batched in (("seeds one by one", False), ("seeds together", True)):
            row = {"what": way, "kind": kind, "seeds": count, "steps": steps}
            if budget.left() <= 0:
                rows.append(row | {"skipped": "time budget"})
                continue
            warm = training.TrainingConfig(steps=1, learning_rate=1e-2)  # first calls (allocator, shapes) untimed
            benchmarks.run(bench, layer, warm, range(count), batched=batched)
            _synchronize(device)
            begun = time.perf_counter()
            benchmarks.run(bench, layer, training.TrainingConfig(steps=steps, learning_rate=1e-2), range(count),
                           batched=batched)
            _synchronize(device)
            rows.append(row | {"ms": 1e3 * (time.perf_counter() - begun)})
    return rows


# ---- 4. chapters in the full profile ------------------------------------------------------------------------------
def chapter_times(names, budget: Budget) -> list[dict]:
    import jupytext
    from nbclient import NotebookClient

    rows = []
    for name in names:
        if budget.left() <= 10:
            rows.append({"chapter": name, "skipped": "time budget"})
            continue
        notebook = jupytext.read(ROOT / "chapters" / f"{name}.md")
        # nbclient's timeout is per cell: each cell gets what is left of the budget, so the chapter ends with it
        client = NotebookClient(notebook, timeout_func=lambda cell: max(1, int(budget.left())), kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT / "chapters")}})
        begun = time.perf_counter()
        try:
            client.execute(env={**os.environ, "GATEDRNN_PROFILE": "full"})
            status = "passed"
        except Exception as error:
            status = f"{type(error).__name__}: {str(error)[-300:]}"
        rows.append({"chapter": name, "seconds": time.perf_counter() - begun, "status": status})
    return rows


def default_chapters() -> list[str]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [Path(f).stem for f in files
            if "{code-cell}" in (ROOT / f"{f}.md").read_text() and Path(f).stem not in ("instructor-guide",
                                                                                          "execution-status")]


# ---- the record ---------------------------------------------------------------------------------------------------
def problems(record: object) -> list[str]:
    """What is wrong with a record's schema, as sentences (none for a good record): the package's check, which the
    speed chapter also applies before it shows a record."""
    from gatedrnn.instruments import speed

    return speed.gpu_record_problems(record)


def default_path(record: dict) -> Path:
    device = re.sub(r"[^0-9A-Za-z]+", "-", record["environment"]["device"]).strip("-").lower()
    return ROOT / "measurements" / "gpu" / f"{device}-{record['environment']['date'][:10]}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the CPU at tiny sizes, kernels interpreted")
    parser.add_argument("--out", type=Path, help="where to write the record (default measurements/gpu/...)")
    parser.add_argument("--budget", type=float, default=360.0, help="seconds for the whole run (default 360)")
    parser.add_argument("--chapters", help="chapters to run in the full profile, by name, comma-separated")
    parser.add_argument("--compile-report", help=argparse.SUPPRESS)  # start_compile_report's own process
    args = parser.parse_args(argv)
    if args.compile_report:
        request = json.loads(args.compile_report)
        print(json.dumps(compile_report(request["hiddens"], tuple(request["capability"]), Budget(request["seconds"]))))
        return 0
    begun = time.monotonic()
    budget = Budget(args.budget)
    if args.dry_run:
        os.environ["TRITON_INTERPRET"] = "1"  # before gatedrnn.nn.kernels is imported: its kernels are interpreted
    import torch

    import gatedrnn

    device = torch.device("cpu") if args.dry_run else gatedrnn.device()
    if device.type != "cuda" and not args.dry_run:
        parser.error("no CUDA device: run with --dry-run, or on a machine with a GPU")
    capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else (9, 0)
    sizes = DRY if args.dry_run else {"kernels": KERNEL_SIZES, "timings": TIMING_SIZES, "scan": SCAN_LENGTHS,
                                      "compiled": COMPILED_HIDDEN, "seeds": None}
    chapters = args.chapters.split(",") if args.chapters else ([] if args.dry_run else default_chapters())
    from gatedrnn.instruments import speed

    record = {"schema": speed.GPU_RECORD_SCHEMA, "environment": environment(device, args.dry_run), "kernels": [], "compiled": [],
              "timings": [], "chapters": [], "seconds": 0.0}
    out = args.out or default_path(record)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every section, so that a run cut short keeps what it measured
        record["seconds"] = time.monotonic() - begun
        partial = out.with_name(out.name + ".partial")
        partial.write_text(json.dumps(record, indent=1) + "\n")
        partial.replace(out)

    save()
    compile_job = start_compile_report(sizes["compiled"], capability, budget.left())
    record["kernels"] = kernel_checks(sizes["kernels"], device, budget)
    save()
    record["timings"] = timings(sizes["timings"], sizes["scan"], sizes["seeds"], device, budget)
    save()
    record["compiled"] = finish_compile_report(compile_job, sizes["compiled"])
    save()
    if device.type == "cuda":
        torch.cuda.empty_cache()  # the timings' cached blocks and graph pools, before the chapters' kernels
    record["chapters"] = chapter_times(chapters, budget)
    save()
    wrong = problems(record)
    for line in wrong:
        print(f"SCHEMA: {line}")
    failed = [f"{r['kind']} {r['T']}x{r['N']}x{r['H']} {r['dtype']}" for r in record["kernels"]
              if r.get("passed") is False]
    print(f"{out}: {len(record['kernels'])} kernel checks ({len(failed)} failed), {len(record['compiled'])} compiled "
          f"kernels, {len(record['timings'])} timings, {len(record['chapters'])} chapters, {record['seconds']:.0f} s")
    for line in failed:
        print(f"FAILED: {line}")
    return 1 if failed or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
