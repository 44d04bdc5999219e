"""Shared helpers of the scripts that make Hugging Face reference cases (make_hf_case.py, make_hf_vit_case.py).

Everything here runs the real transformers on CPU; nothing is reimplemented. See test/fixtures/hf/README.md and
test/fixtures/hf-vit/README.md for how to set up the environment and what the files hold.
"""

import hashlib
import json
import os
import platform
import sys
import tempfile
import types
from pathlib import Path


def import_transformers():
    """Imports transformers with one shim: its import-time dependency pin check is a no-op.

    transformers 4.57.6 pins huggingface-hub < 1.0 at import time although nothing we call touches the hub;
    where only a newer huggingface-hub is installed, the pin would stop the import. Nothing else is changed.
    """
    shim = types.ModuleType("transformers.dependency_versions_check")
    shim.dep_version_check = lambda *args, **kwargs: None
    sys.modules.setdefault("transformers.dependency_versions_check", shim)
    import transformers

    return transformers


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def versions(module_files):
    """Library versions and the hashes of the transformers source files that define the model."""
    import numpy
    import torch
    import transformers

    root = Path(transformers.__file__).parent
    out = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "torch_num_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    for rel in module_files:
        out[f"{Path(rel).name}_sha256"] = sha256(root / rel)
    out["shim"] = "transformers.dependency_versions_check replaced by a no-op module (huggingface-hub pin); nothing else"
    return out


def perturb(model, seed):
    """Moves every LayerNorm and bias away from HF's 1/0 init, so that a wrongly wired one shows in the outputs.

    With torch.Generator().manual_seed(seed*1000+7), in model.modules() order: every LayerNorm weight += 0.1*N(0,1),
    bias += 0.1*N(0,1); every Linear/Conv2d bias += 0.05*N(0,1). Returns the generator (the inputs come from it next).
    """
    import torch

    g = torch.Generator().manual_seed(seed * 1000 + 7)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight += 0.1 * torch.randn(module.weight.shape, generator=g)
                module.bias += 0.1 * torch.randn(module.bias.shape, generator=g)
            elif isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and module.bias is not None:
                module.bias += 0.05 * torch.randn(module.bias.shape, generator=g)
    return g


PERTURB_TEXT = (
    "with torch.Generator().manual_seed(seed*1000+7): every LayerNorm weight += 0.1*N(0,1), bias += 0.1*N(0,1); "
    "every Linear/Conv2d bias += 0.05*N(0,1)"
)


def set_attn_implementation(model, impl):
    """Eager or sdpa attention on every sub-module that reads the config (as from_pretrained(attn_implementation=))."""
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None:
            config._attn_implementation = impl


def is_near_zero_reference(name):
    # softmax ignores a constant added to every key of a query: the key bias gets no gradient (float noise only)
    return name.startswith("grad.") and name.endswith("attention.attention.key.bias")


F32_EPS = 1.1920928955078125e-07


def tolerance_entry(name, f32, f64):
    """float32 result against the float64 one: the diff, the scale, and a suggested atol.

    suggested_atol = 10x torch's own float32 error (1000x where the true value is zero), but never below
    4 float32 ulps of the tensor's scale (a diff of exactly 0 would otherwise ask for bit equality).
    """
    diff = (f32.double() - f64.double()).abs().max().item() if f32.numel() else 0.0
    ref = f64.double().abs().max().item() if f64.numel() else 0.0
    entry = {"max_abs_diff": diff, "max_abs_ref": ref, "max_rel_to_max": diff / ref if ref > 0 else 0.0}
    if is_near_zero_reference(name):
        entry["near_zero_reference"] = True
        entry["suggested_atol"] = 1000 * diff
    else:
        entry["suggested_atol"] = max(10 * diff, 4 * F32_EPS * ref)
    return entry


def summary(a, b, names):
    """The worst abs and relative differences between two result dicts over `names` (near-zero tensors apart)."""
    worst_abs, worst_rel, worst_name, excluded = 0.0, 0.0, None, []
    for name in names:
        x, y = a[name].double(), b[name].double()
        diff = (x - y).abs().max().item() if x.numel() else 0.0
        worst_abs = max(worst_abs, diff)
        if is_near_zero_reference(name):
            excluded.append(name)
            continue
        ref = y.abs().max().item() if y.numel() else 0.0
        rel = diff / ref if ref > 0 else 0.0
        if rel > worst_rel or worst_name is None:
            worst_rel, worst_name = rel, name
    return {
        "worst_max_abs_diff": worst_abs,
        "worst_rel_to_max": worst_rel,
        "worst_rel_tensor": worst_name,
        "near_zero_reference_tensors_excluded": excluded,
    }


def write_safetensors(path, tensors, metadata):
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)


def saved_config_json(model):
    """What save_pretrained writes to config.json for this model (run, not imitated)."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        return json.loads(Path(tmp, "config.json").read_text())


def save_and_check(model, out_dir, run_forward):
    """Writes config.json (to_dict) and model.safetensors, then checks them the way a user would load them.

    run_forward(model) -> dict of output tensors. Returns the `checks` record for case.json.
    """
    import torch
    from safetensors.torch import load_file

    out_dir = Path(out_dir)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    write_safetensors(out_dir / "model.safetensors", state, {"format": "pt"})
    config = model.config.to_dict()
    config["architectures"] = [type(model).__name__]
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    roundtrip = load_file(str(out_dir / "model.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        hf_saved = load_file(str(Path(tmp, "model.safetensors")))
    reloaded = type(model).from_pretrained(str(out_dir), attn_implementation="eager")
    before, after = run_forward(model), run_forward(reloaded)
    return {
        "roundtrip_official_safetensors": "bitwise equal"
        if all(torch.equal(roundtrip[k], state[k]) for k in state) and roundtrip.keys() == state.keys()
        else "DIFFERENT",
        "model_safetensors_equals_hf_save_pretrained": hf_saved.keys() == state.keys()
        and all(torch.equal(hf_saved[k], state[k]) for k in state),
        "hf_from_pretrained_on_these_files_reproduces_outputs": "bitwise equal"
        if all(torch.equal(before[k], after[k]) for k in before)
        else "DIFFERENT",
    }


def compare_cases(new_dir, old_dir):
    """Says how a regenerated case differs from a committed one: tensor by tensor, judged by the committed tolerances.

    Weights and inputs must be bitwise equal (they come from seeded generators); float32 outputs and gradients may
    differ by the last bits where torch's CPU kernels differ (AVX2 vs AVX-512 builds), and must stay within the
    committed suggested_atol; exact tensors (mask, ids_restore) must be equal.
    """
    import torch
    from safetensors.torch import load_file

    old_case = json.loads(Path(old_dir, "case.json").read_text())
    new_case = json.loads(Path(new_dir, "case.json").read_text())
    atol = {k: v["suggested_atol"] for k, v in old_case["tolerance"]["per_tensor_f32_vs_f64"].items()}
    exact = set(old_case["tolerance"].get("exact", [])) | {"pixel_values", "noise", "labels"}
    failures = []
    for file in ["model.safetensors", "io.safetensors"]:
        new, old = load_file(str(Path(new_dir, file))), load_file(str(Path(old_dir, file)))
        if new.keys() != old.keys():
            failures.append(f"{file}: names differ: only new {sorted(new.keys() - old.keys())}, "
                            f"only old {sorted(old.keys() - new.keys())}")
        equal = [k for k in old if k in new and torch.equal(new[k], old[k])]
        print(f"{file}: {len(equal)}/{len(old)} tensors bitwise equal")
        worst = (0.0, None)
        for k in old:
            if k not in new or k in equal:
                continue
            diff = (new[k].double() - old[k].double()).abs().max().item()
            bound = None if file == "model.safetensors" or k in exact else atol.get(k, atol.get(k.removeprefix("f64.")))
            if bound is None and not k.startswith(("debug.", "f64.")):
                failures.append(f"{file} {k}: differs by {diff:.3g} and must be equal")
            elif bound is not None and diff > bound:
                failures.append(f"{file} {k}: differs by {diff:.3g} > suggested_atol {bound:.3g}")
            elif bound is not None and diff / bound > worst[0]:
                worst = (diff / bound, k)
        if worst[1]:
            print(f"  the rest within tolerance; closest: {worst[1]} at {worst[0]:.2g} of its suggested_atol")
    for key in sorted(set(new_case) | set(old_case)):
        if key in ("tolerance", "versions", "crosscheck", "checks", "split"):
            continue
        if new_case.get(key) != old_case.get(key):
            failures.append(f"case.json {key}: differs")
    print("\n".join(failures) if failures else "regenerated case agrees with the committed one")
    return not failures


def ensure_dir(path):
    os.makedirs(path, exist_ok=True)
    return Path(path)
