"""cuBLAS through PyTorch for bench/gpu/gemm.ts: float32 with TF32 off, the same shapes, one JSON line each.

  python3 gemm_torch.py '<shapes as JSON>' quick|full
Each figure: R products issued back to back, then torch.cuda.synchronize(); TFLOP/s = 2·B·M·K·N·R / time.
"""
import json
import math
import sys
import time

import torch


def main(shapes, mode):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for s in shapes:
        try:
            b, m, k, n = s["batch"], s["m"], s["k"], s["n"]
            a = torch.rand(b, k, m, device="cuda").transpose(1, 2) if s.get("transposeA") else torch.rand(b, m, k, device="cuda")
            x = torch.rand(b, k, n, device="cuda")
            flops = 2 * b * m * k * n
            for _ in range(3):
                torch.matmul(a, x)
            torch.cuda.synchronize()
            reps = max(3, min(20 if mode == "quick" else 200, math.ceil((2e11 if mode == "quick" else 2e12) / flops)))
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.matmul(a, x)
            torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
            print(json.dumps({"name": s["name"], "tflops": round(flops * reps / seconds / 1e12, 3)}), flush=True)
        except Exception as e:  # one line per shape, whatever happens
            print(json.dumps({"name": s["name"], "error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "full")
