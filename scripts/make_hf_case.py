"""Makes a ViTMAEForPreTraining reference case (test/fixtures/hf/<case>/) with the real Hugging Face transformers.

    python scripts/make_hf_case.py tiny --out /tmp/tiny                     # regenerate a committed case
    python scripts/make_hf_case.py tiny --out /tmp/tiny --compare test/fixtures/hf/tiny
    python scripts/make_hf_case.py mine --out /tmp/mine --seed 7 --batch 2 \\
        --config '{"image_size": 32, "patch_size": 8, "hidden_size": 64, ...}' [--input-size 48 48] [--interpolate]

Writes config.json, model.safetensors, io.safetensors and case.json in the format that test/fixtures/hf/README.md
describes. Not run by CI; see that README for the environment (transformers 4.57.6, torch 2.13.0+cpu).
"""

import argparse
import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hf_cases  # noqa: E402

TINY = {
    "image_size": 32,
    "patch_size": 8,
    "num_channels": 3,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "decoder_hidden_size": 32,
    "decoder_num_hidden_layers": 1,
    "decoder_num_attention_heads": 4,
    "decoder_intermediate_size": 64,
    "mask_ratio": 0.75,
    "norm_pix_loss": False,
}

# The committed cases: name -> (about, config overrides, seed, batch, input height/width or None, interpolate)
CASES = {
    "tiny": (
        "Brief case 1: tiny 2-layer encoder / 1-layer decoder, mask 0.75, plain pixel loss.",
        TINY,
        1,
        2,
        None,
        False,
    ),
    "tiny_normpix": (
        "Brief case 2: as tiny but norm_pix_loss, mask 0.5, batch 3, layer_norm_eps 1e-6.",
        {**TINY, "mask_ratio": 0.5, "norm_pix_loss": True, "layer_norm_eps": 1e-06},
        2,
        3,
        None,
        False,
    ),
    "odd": (
        "Brief case 3: 1 channel, no qkv bias, gelu_new (tanh approx), 4x4 grid of 4px patches, mask 0.6 -> "
        "len_keep=int(16*0.4)=6 (not a multiple); initializer_range 0.2 so attention is far from uniform.",
        {
            **TINY,
            "image_size": 16,
            "patch_size": 4,
            "num_channels": 1,
            "mask_ratio": 0.6,
            "qkv_bias": False,
            "hidden_act": "gelu_new",
            "initializer_range": 0.2,
        },
        3,
        2,
        None,
        False,
    ),
    "interp": (
        "Brief case 4: config image 32 (4x4 grid) but 48x48 input (6x6 grid), interpolate_pos_encoding=True "
        "(bicubic encoder pos-embed, 1-D bicubic decoder pos-embed).",
        TINY,
        4,
        2,
        (48, 48),
        True,
    ),
}

FROZEN = ["vit.embeddings.position_embeddings", "decoder.decoder_pos_embed"]


def build(config_overrides, seed):
    """HF's own init under torch.manual_seed(seed), the decoder's sin-cos table and mask token, then perturb."""
    import torch
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    torch.manual_seed(seed)
    model = ViTMAEForPreTraining(ViTMAEConfig(**config_overrides))
    hf_cases.set_attn_implementation(model, "eager")
    facts = {
        "decoder_pos_embed_all_zero_after_hf_init": bool((model.decoder.decoder_pos_embed == 0).all()),
        "mask_token_all_zero_after_hf_init": bool((model.decoder.mask_token == 0).all()),
    }
    model.decoder.initialize_weights(model.vit.embeddings.patch_embeddings.num_patches)
    return model, facts, hf_cases.perturb(model, seed)


def run(model, pixel_values, noise, flags, dtype, impl, debug=False):
    """Forward and backward of a copy of `model` in `dtype` with `impl` attention: every output and gradient."""
    import torch

    m = copy.deepcopy(model).to(dtype)
    hf_cases.set_attn_implementation(m, impl)
    for name in FROZEN:  # requires_grad=False in HF: enabled here only to report their (informational) gradients
        m.get_parameter(name).requires_grad_(True)
    x = pixel_values.to(dtype).clone().requires_grad_(True)
    captured = {}
    hooks = []
    if debug:
        hook = lambda key: lambda mod, inp, out: captured.__setitem__(key, out.detach().clone())  # noqa: E731
        hooks.append(m.vit.embeddings.patch_embeddings.register_forward_hook(hook("debug.patch_embeddings")))
        hooks.append(m.decoder.decoder_embed.register_forward_hook(hook("debug.decoder_embed_out")))
        hooks.append(m.decoder.decoder_norm.register_forward_hook(hook("debug.decoder_norm_out")))
        pre = lambda mod, inp: captured.__setitem__("debug.decoder_input", inp[0].detach().clone())  # noqa: E731
        hooks.append(m.decoder.decoder_layers[0].register_forward_pre_hook(pre))
    interpolate = flags["interpolate_pos_encoding"]
    kwargs = dict(noise=noise.to(dtype), interpolate_pos_encoding=interpolate)
    out = m(
        pixel_values=x,
        output_hidden_states=flags["output_hidden_states"],
        output_attentions=flags["output_attentions"] and impl == "eager",
        **kwargs,
    )
    out.loss.backward()
    for h in hooks:
        h.remove()
    r = {"loss": out.loss.detach(), "logits": out.logits.detach(), "mask": out.mask, "ids_restore": out.ids_restore}
    with torch.no_grad():
        r["last_hidden_state"] = m.vit(pixel_values=x.detach(), **kwargs).last_hidden_state
        if flags["output_hidden_states"]:
            r.update({f"hidden_states.{i}": h.detach() for i, h in enumerate(out.hidden_states)})
        if out.attentions is not None:
            r.update({f"attentions.{i}": a.detach() for i, a in enumerate(out.attentions)})
        if debug:
            r.update(captured)
            r["debug.patchified_pixel_values"] = m.patchify(x.detach(), interpolate_pos_encoding=interpolate)
            if interpolate:
                h, w = x.shape[-2:]
                emb = m.vit.embeddings
                patches = emb.patch_embeddings(x.detach(), interpolate_pos_encoding=True)
                cls = torch.zeros(patches.shape[0], 1, patches.shape[2], dtype=dtype)
                r["debug.encoder_pos_embed_used"] = emb.interpolate_pos_encoding(torch.cat([cls, patches], 1), h, w)
                r["debug.decoder_pos_embed_used"] = m.decoder.interpolate_pos_encoding(captured["debug.decoder_input"])
    for name, p in m.named_parameters():
        r[f"grad.{name}"] = p.grad.detach().clone()
    r["grad.pixel_values"] = x.grad.detach().clone()
    return r


def make_case(name, about, overrides, seed, batch, input_hw, interpolate, out_dir):
    import torch

    torch.set_num_threads(1)
    model, facts, g = build(overrides, seed)
    cfg = model.config
    h, w = input_hw or (cfg.image_size, cfg.image_size)
    grid = (h // cfg.patch_size, w // cfg.patch_size)
    seq = grid[0] * grid[1]
    len_keep = int(seq * (1 - cfg.mask_ratio))
    input_shape = [batch, cfg.num_channels, h, w]
    pixel_values = torch.randn(input_shape, generator=g)
    noise = torch.rand(batch, seq, generator=g)
    if len(set(noise.flatten().tolist())) != noise.numel():
        raise SystemExit("noise has ties: argsort would be ambiguous; choose another seed")
    flags = {"output_hidden_states": True, "output_attentions": True, "interpolate_pos_encoding": interpolate}

    f32 = run(model, pixel_values, noise, flags, torch.float32, "eager", debug=True)
    # float64 reference: sdpa attention, because HF's eager attention takes its softmax in float32 even for float64
    # inputs; the attention probabilities themselves only exist in eager mode, so theirs come from eager float64.
    f64 = run(model, pixel_values, noise, flags, torch.float64, "sdpa")
    f64_eager = run(model, pixel_values, noise, flags, torch.float64, "eager")
    f32_sdpa = run(model, pixel_values, noise, flags, torch.float32, "sdpa")

    outputs = ["last_hidden_state", "mask", "ids_restore", "logits", "loss"]
    states = [k for k in f32 if k.startswith("hidden_states.")] + [k for k in f32 if k.startswith("attentions.")]
    grads = [k for k in f32 if k.startswith("grad.")]
    debug = [k for k in f32 if k.startswith("debug.")]
    io = {"pixel_values": pixel_values, "noise": noise}
    io.update({k: f32[k] for k in outputs + states + grads + debug})
    io.update({f"f64.{k}": f64[k] for k in ["loss", "logits", "last_hidden_state"]})
    out_dir = hf_cases.ensure_dir(out_dir)
    import transformers

    meta = {"case": name, "transformers_version": transformers.__version__, "torch_version": torch.__version__}
    hf_cases.write_safetensors(out_dir / "io.safetensors", io, meta)

    compared = ["last_hidden_state", "logits", "loss"] + states
    per_tensor = {}
    for k in compared + grads:
        ref = f64_eager if k.startswith("attentions.") else f64
        per_tensor[k] = hf_cases.tolerance_entry(k, f32[k], ref[k])
    forward_names = ["last_hidden_state", "logits", "loss"] + [k for k in states if k.startswith("hidden_states.")]

    def forward_for_check(m):
        with torch.no_grad():
            o = m(pixel_values=pixel_values, noise=noise, interpolate_pos_encoding=interpolate)
        return {"logits": o.logits, "loss": o.loss, "mask": o.mask}

    checks = hf_cases.save_and_check(model, out_dir, forward_for_check)
    case = {
        "name": name,
        "about": about,
        "config_overrides": overrides,
        "attn_implementation": "eager",
        "batch_size": batch,
        "input_shape": input_shape,
        "flags": flags,
        "derived": {
            "grid_hw": list(grid),
            "seq_length": seq,
            "len_keep": len_keep,
            "len_keep_expr": f"int({seq} * (1 - {cfg.mask_ratio})) = int({seq * (1 - cfg.mask_ratio)})",
            "encoder_tokens": 1 + len_keep,
            "decoder_tokens": 1 + seq,
            "patch_dim": cfg.patch_size**2 * cfg.num_channels,
            "num_positions_in_config": model.vit.embeddings.patch_embeddings.num_patches,
        },
        "has_grads": True,
        "seed": seed,
        "weights": f"torch.manual_seed({seed}); ViTMAEForPreTraining(ViTMAEConfig(**config_overrides)) (HF _init_weights); "
        "then HF's own model.decoder.initialize_weights(num_patches) because HF's _init_weights leaves "
        f"decoder_pos_embed and mask_token at zero; then, {hf_cases.PERTURB_TEXT}.",
        "hf_init_facts": facts,
        "inputs": "same generator, after the perturbation: pixel_values = torch.randn(input_shape); "
        "noise = torch.rand(batch, seq_length) (what HF draws when noise is None). No ties in noise.",
        "frozen_parameters": FROZEN,
        "frozen_parameters_note": "requires_grad=False in HF (fixed sin-cos tables); their grad.* entries were "
        "computed by temporarily enabling requires_grad and are informational.",
        "io_tensors": {
            k: {"dtype": {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}[v.dtype], "shape": list(v.shape)}
            for k, v in io.items()
        },
        "io_notes": {
            "last_hidden_state": "ViTMAEModel output (after the final encoder layernorm); shape (B, 1+len_keep, hidden)",
            "hidden_states.N": "N=0: embedding output (CLS + kept patches, after masking); N=i: output of encoder "
            "layer i (last one is BEFORE the final layernorm)",
            "attentions.N": "softmax probabilities of encoder layer N, (B, heads, 1+len_keep, 1+len_keep)",
            "mask": "float32, 1 = masked/removed, 0 = kept, in original patch order",
            "ids_restore": "int64 argsort(argsort(noise))",
            "loss": "0-dim float32 tensor (shape [])",
            "grad.*": "d loss / d parameter (float32 autograd); grad.pixel_values includes the path through the loss target",
            "f64.*": "same forward computed in float64 (weights/inputs upcast, sdpa attention => pure float64)",
            "debug.*": "intermediates captured with forward hooks / HF helper methods (patch_embeddings = conv output "
            "before pos add; decoder_embed_out; decoder_input = first decoder layer input after unshuffle + pos add; "
            "decoder_norm_out; patchified_pixel_values = HF patchify(pixel_values) before norm_pix; *_pos_embed_used "
            "= interpolated tables in interpolate cases)",
        },
        "tolerance": {
            "reference": "float32 golden (these files) vs float64 recomputation with the same weights/inputs",
            "how_to_compare": "per tensor T: max|yours - golden| <= per_tensor_f32_vs_f64[T].suggested_atol (= 10x the "
            "float32-vs-float64 error torch itself shows, at least 4 float32 ulps of max|T|; 1000x for "
            "near_zero_reference tensors whose true value is 0, e.g. grad of attention key.bias). mask and "
            "ids_restore must match exactly.",
            "forward_summary": hf_cases.summary(f32, f64, forward_names),
            "grad_summary": hf_cases.summary(f32, f64, grads),
            "per_tensor_f32_vs_f64": per_tensor,
            "f32_eager_vs_f32_sdpa_summary": {
                "forward": hf_cases.summary(f32, f32_sdpa, forward_names),
                "grads": hf_cases.summary(f32, f32_sdpa, grads),
            },
            "f64_eager_vs_f64_sdpa_summary": {
                "note": "HF eager attention computes softmax in float32 even for float64 inputs",
                "forward": hf_cases.summary(f64_eager, f64, forward_names),
                "grads": hf_cases.summary(f64_eager, f64, grads),
            },
            "exact": ["mask", "ids_restore"],
        },
        "checks": checks,
        "hf_save_pretrained_config_json_would_be": hf_cases.saved_config_json(model),
        "versions": hf_cases.versions(["models/vit_mae/modeling_vit_mae.py", "models/vit_mae/configuration_vit_mae.py"]),
    }
    (out_dir / "case.json").write_text(json.dumps(case, indent=2) + "\n")
    print(f"wrote {out_dir}: {len(io)} tensors in io.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", help=f"a committed case ({', '.join(CASES)}) or a new name with --config")
    ap.add_argument("--out", required=True, help="folder to write (created)")
    ap.add_argument("--config", help="ViTMAEConfig overrides as JSON (a new case)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), help="input size (default: the config's)")
    ap.add_argument("--interpolate", action="store_true", help="interpolate_pos_encoding=True")
    ap.add_argument("--about", default="a user case")
    ap.add_argument("--compare", metavar="DIR", help="afterwards, compare the new case with this one")
    args = ap.parse_args()
    hf_cases.import_transformers()
    if args.config is not None:
        spec = (args.about, json.loads(args.config), args.seed, args.batch, args.input_size, args.interpolate)
    elif args.name in CASES:
        spec = CASES[args.name]
    else:
        ap.error(f"unknown case {args.name!r}: give --config for a new one (committed: {', '.join(CASES)})")
    make_case(args.name, *spec, args.out)
    if args.compare:
        hf_cases.compare_cases(args.out, args.compare)


if __name__ == "__main__":
    main()
