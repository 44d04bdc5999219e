"""The PyTorch peer: one (case, impl) per process, speaking bench/protocol.ts's JSON lines.

  python3 torch_peer.py --probe                       # prints torch's version, threads and BLAS as one JSON line
  python3 torch_peer.py --spec FILE --reps N --warmup W --min-reps M --budget-s S [--device cuda]
Threads: BENCH_TORCH_THREADS (default 2). `--device cuda` is impl "pytorch-cuda": float32 with TF32 off
(the anchor of issue 11), every step synchronized before its time is taken.
"""
import json
import math
import os
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import torch  # noqa: E402  (after the path insert)

from safetensors_io import read_safetensors  # noqa: E402
from torch_mae import Layer, ViTMAEForPreTraining, adamw_for  # noqa: E402

PREFIX = "BENCH "
HEAD, SAMPLES = 8, 64
THREADS = int(os.environ.get("BENCH_TORCH_THREADS", "2"))
DEVICE = "cpu"  # set by --device


def send(msg):
    print(PREFIX + json.dumps(msg, allow_nan=False), flush=True)


def finite(v):
    return v if math.isfinite(v) else None  # JSON has no NaN; bench/protocol.ts reads null as NaN


def summarize(t):
    """The same summary as bench/protocol.ts `summarize` (sampleIndex = floor(k·n/count))."""
    flat = t.detach().reshape(-1).double()
    n = flat.numel()
    count = min(SAMPLES, n)
    return {
        "shape": list(t.shape), "sum": finite(float(flat.sum())), "absSum": finite(float(flat.abs().sum())),
        "head": [finite(float(v)) for v in flat[:HEAD]],
        "sample": [finite(float(flat[k * n // count])) for k in range(count)],
    }


def blas_library():
    """Which BLAS shared object this process really mapped (torch's config string says only 'generic' on Debian)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "blas" in path or "lapack" in path or "mkl" in path:
                libs.add(path)
    return sorted(libs)


def probe():
    torch.set_num_threads(THREADS)
    config = torch.__config__.show()
    found = re.search(r"BLAS_INFO=([^,\s]+)", config)
    blas_info = f"BLAS_INFO={found.group(1) if found else '?'}"
    return {"version": torch.__version__, "threads": torch.get_num_threads(), "blasInfo": blas_info,
            "blasLibraries": blas_library()}


def peak_rss_mb():
    """Peak RSS of this process's own image (VmHWM): on Linux getrusage's ru_maxrss also counts the parent's
    resident pages at fork time (see bench/child.ts peakRssMb), so it is only the fallback."""
    try:
        with open("/proc/self/status") as status:
            found = re.search(r"^VmHWM:\s+(\d+) kB", status.read(), re.M)
        if found:
            return int(found.group(1)) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def need(tensors, name):
    if name not in tensors:
        raise KeyError(f"torch: the case data has no tensor {name!r}")
    return tensors[name]


# ─── workloads: (check() -> {name: tensor}, step()) ──────────────────────────────────────────────────────

def synchronized(step):
    """step, finished before it returns: CUDA queues its kernels."""
    if DEVICE == "cpu":
        return step

    def run():
        out = step()
        torch.cuda.synchronize()
        return out
    return run


def matmul_workload(spec, tensors):
    a, b = need(tensors, "a"), need(tensors, "b")
    return (lambda: {"out": a @ b}), (lambda: a @ b)


def block_workload(spec, tensors):
    s = spec["block"]
    layer = Layer(s["hidden"], s["heads"], s["intermediate"], s["eps"], "gelu").to(DEVICE)
    layer.load_state_dict({k: v for k, v in tensors.items() if k not in ("x", "g")}, strict=True)
    x, g = need(tensors, "x"), need(tensors, "g")
    if spec["kind"] == "block-fwd":
        def forward():
            with torch.no_grad():  # inference: no graph recorded
                return layer(x)
        return (lambda: {"out": forward()}), forward

    names = [n for n, _ in layer.named_parameters()]
    params = [p for _, p in layer.named_parameters()]
    x_leaf = x.clone().requires_grad_(True)

    def loss_and_grads():
        loss = (layer(x_leaf) * g).sum()  # d loss / d out = g
        return loss, torch.autograd.grad(loss, [x_leaf] + params)

    def check():
        loss, grads = loss_and_grads()
        out = {"loss": loss, "grad.x": grads[0]}
        out.update({f"grad.{n}": gr for n, gr in zip(names, grads[1:])})
        return out

    return check, loss_and_grads


def mae_workload(spec, tensors):
    m = spec["mae"]
    model = ViTMAEForPreTraining(m["config"]).to(DEVICE)
    pixel_values, noise = need(tensors, "pixel_values"), need(tensors, "noise")
    model.load_state_dict({k: v for k, v in tensors.items() if k not in ("pixel_values", "noise")}, strict=True)
    del tensors
    optimizer = adamw_for(model, m["optimizer"])
    named = dict(model.named_parameters())

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(pixel_values, noise)[0]
        loss.backward()
        optimizer.step()
        return loss

    def check():
        deltas = [n[len("delta."):] for n in spec["checks"] if n.startswith("delta.")]
        before = {n: named[n].detach().clone() for n in deltas}
        optimizer.zero_grad(set_to_none=True)
        loss = model(pixel_values, noise)[0]
        loss.backward()
        out = {"loss": loss}
        for n in spec["checks"]:
            if n.startswith("grad."):
                out[n] = named[n[len("grad."):]].grad.detach().clone()
        optimizer.step()
        for n in deltas:
            out[f"delta.{n}"] = named[n].detach() - before[n]
        return out

    return check, step


WORKLOADS = {"matmul": matmul_workload, "block-fwd": block_workload, "block-fwdbwd": block_workload,
             "mae-step": mae_workload}


CHECK_IS_WARMUP_S = 5.0  # as bench/child.ts: a check this long already warmed what a warm-up would


def time_steps(step, check_s, reps, warmup, min_reps, budget_s):
    estimate = check_s
    if check_s > CHECK_IS_WARMUP_S:
        warmup = 0
    for _ in range(warmup):
        t0 = time.perf_counter()
        step()
        estimate = time.perf_counter() - t0
    reps = max(min_reps, min(reps, int(budget_s / max(estimate, 1e-6))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def run_case(args):
    global DEVICE
    flag = lambda name: args[args.index(name) + 1]
    torch.set_num_threads(THREADS)
    spec = json.loads(Path(flag("--spec")).read_text())
    if "--device" in args:
        DEVICE = flag("--device")
    if DEVICE == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 as it is: the anchor is fp32, not TF32
        torch.backends.cudnn.allow_tf32 = False
        name = torch.cuda.get_device_name(0)
        send({"type": "hello", "impl": "pytorch-cuda", "version": torch.__version__, "threads": f"CUDA {name}"})
    else:
        send({"type": "hello", "impl": "pytorch", "version": torch.__version__, "threads": str(torch.get_num_threads())})
    make = WORKLOADS.get(spec["kind"])
    if make is None:
        send({"type": "unsupported", "reason": f"no torch workload for kind {spec['kind']!r}"})
        return
    check, step = make(spec, {k: v.to(DEVICE) for k, v in read_safetensors(spec["data"]).items()})
    check, step = synchronized(check), synchronized(step)

    t0 = time.perf_counter()
    outputs = check()
    check_ms = (time.perf_counter() - t0) * 1000
    missing = [n for n in spec["checks"] if n not in outputs]
    if missing:
        raise KeyError(f"torch returned no check output {missing[0]!r} for {spec['name']}")
    send({"type": "check", "outputs": {n: summarize(outputs[n]) for n in spec["checks"]}, "checkMs": check_ms})
    del outputs

    if sys.stdin.readline().strip() != "time":
        return
    times = time_steps(step, check_ms / 1000, int(flag("--reps")), int(flag("--warmup")), int(flag("--min-reps")), float(flag("--budget-s")))
    times_sorted = sorted(times)
    mid = len(times) // 2
    median = times_sorted[mid] if len(times) % 2 else (times_sorted[mid - 1] + times_sorted[mid]) / 2
    send({"type": "result", "timesMs": times, "ms": median, "peakRssMb": peak_rss_mb()})


def main(args):
    if args[:1] == ["--probe"]:
        print(json.dumps(probe()))
        return 0
    try:
        run_case(args)
        return 0
    except Exception as e:  # report, short, on the protocol; the parent prints it in the table
        send({"type": "error", "message": f"{type(e).__name__}: {e}"})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
