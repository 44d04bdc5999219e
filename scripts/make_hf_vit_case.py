"""Makes ViTForImageClassification reference cases (test/fixtures/hf-vit/<case>/) with the real transformers.

    python scripts/make_hf_vit_case.py tiny_cls --out test/fixtures/hf-vit/tiny_cls
    python scripts/make_hf_vit_case.py from_mae_tiny --out test/fixtures/hf-vit/from_mae_tiny
    python scripts/make_hf_vit_case.py tiny_meanpool --out test/fixtures/hf-vit/tiny_meanpool
    python scripts/make_hf_vit_case.py tiny_cls --out /tmp/x --compare test/fixtures/hf-vit/tiny_cls

Cases:
  tiny_cls       HF's ViTForImageClassification (CLS pooling), HF init, then LayerNorms and biases perturbed.
  from_mae_tiny  ViTForImageClassification.from_pretrained(<the tiny ViTMAE pre-training case>, num_labels=3):
                 transformers takes the vit.* encoder, drops the decoder and initialises the classifier.
  tiny_meanpool  MAE's global-pool head (models_vit.py, global_pool=True) on HF's ViT encoder: the final
                 vit.layernorm removed, the patch tokens (not CLS) averaged, then fc_norm and the classifier.
                 transformers has no such class, so the case composes HF's ViTModel with two torch layers.

Each writes config.json, model.safetensors, io.safetensors (pixel_values, labels, logits, loss, last_hidden_state,
hidden_states.N, attentions.N, grad.<param> for every parameter, grad.pixel_values, f64.logits, f64.loss) and
case.json with per-tensor float32-vs-float64 tolerances. Not run by CI; see test/fixtures/hf-vit/README.md.
"""

import argparse
import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hf_cases  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TINY = {
    "image_size": 32,
    "patch_size": 8,
    "num_channels": 3,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
}
CASES = {
    "tiny_cls": ("ViTForImageClassification, CLS pooling, 5 labels, batch 4.", 11, 4),
    "from_mae_tiny": (
        "ViTForImageClassification.from_pretrained(test/fixtures/hf/tiny, num_labels=3): the ViTMAE pre-training "
        "checkpoint's encoder as transformers loads it, a fresh classifier; batch 4.",
        12,
        4,
    ),
    "tiny_meanpool": (
        "MAE's global average pool + fc_norm head (models_vit.py global_pool=True) on HF's ViT encoder, 5 labels, "
        "batch 4.",
        13,
        4,
    ),
}


def mean_pool_class():
    """MAE's fine-tuning model with global pooling, built from HF's ViTModel (whose final layernorm MAE deletes)."""
    import torch
    from transformers import ViTModel, ViTPreTrainedModel
    from transformers.modeling_outputs import ImageClassifierOutput

    class ViTForImageClassificationMeanPool(ViTPreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.vit = ViTModel(config, add_pooling_layer=False)
            del self.vit.layernorm  # models_vit.py: `del self.norm  # remove the original norm`
            self.vit.layernorm = torch.nn.Identity()
            self.fc_norm = torch.nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
            self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
            self.post_init()

        def forward(self, pixel_values, labels=None, **kwargs):
            outputs = self.vit(pixel_values, **kwargs)
            pooled = self.fc_norm(outputs.last_hidden_state[:, 1:, :].mean(dim=1))  # global pool without cls token
            logits = self.classifier(pooled)
            loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
            return ImageClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            )

    return ViTForImageClassificationMeanPool


def build(name, seed):
    """The model of a case and the generator its inputs come from, with notes on how the weights were made."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(seed)
    if name == "tiny_cls":
        model = ViTForImageClassification(ViTConfig(**TINY, num_labels=5))
        how = f"torch.manual_seed({seed}); ViTForImageClassification(ViTConfig(**config_overrides, num_labels=5)) (HF init)"
    elif name == "tiny_meanpool":
        model = mean_pool_class()(ViTConfig(**TINY, num_labels=5, use_mean_pooling=True))
        how = (
            f"torch.manual_seed({seed}); HF ViTModel(add_pooling_layer=False) without its final layernorm, + "
            "fc_norm LayerNorm + classifier Linear, HF's ViT init"
        )
    else:
        source = REPO / "test/fixtures/hf/tiny"
        model, info = ViTForImageClassification.from_pretrained(
            str(source), num_labels=3, attn_implementation="eager", output_loading_info=True
        )
        how = (
            f"torch.manual_seed({seed}); ViTForImageClassification.from_pretrained('test/fixtures/hf/tiny', "
            "num_labels=3): vit.* loaded, decoder.* dropped, classifier initialised by HF"
        )
        model.config._name_or_path = "test/fixtures/hf/tiny"  # not this machine's absolute path
        hf_cases.set_attn_implementation(model, "eager")
        return model, None, how, {k: sorted(v) for k, v in info.items()}
    hf_cases.set_attn_implementation(model, "eager")
    return model, hf_cases.perturb(model, seed), f"{how}; then, {hf_cases.PERTURB_TEXT}.", None


def run(model, pixel_values, labels, dtype, impl):
    """Forward and backward of a copy of `model` in `dtype` with `impl` attention: every output and gradient."""
    import torch

    m = copy.deepcopy(model).to(dtype)
    hf_cases.set_attn_implementation(m, impl)
    x = pixel_values.to(dtype).clone().requires_grad_(True)
    out = m(pixel_values=x, labels=labels, output_hidden_states=True, output_attentions=impl == "eager")
    out.loss.backward()
    r = {"logits": out.logits.detach(), "loss": out.loss.detach()}
    r.update({f"hidden_states.{i}": h.detach() for i, h in enumerate(out.hidden_states)})
    with torch.no_grad():
        r["last_hidden_state"] = m.vit(pixel_values=x.detach()).last_hidden_state
    if out.attentions is not None:
        r.update({f"attentions.{i}": a.detach() for i, a in enumerate(out.attentions)})
    for n, p in m.named_parameters():
        r[f"grad.{n}"] = p.grad.detach().clone()
    r["grad.pixel_values"] = x.grad.detach().clone()
    return r


def make_case(name, about, seed, batch, out_dir):
    import torch
    import transformers

    torch.set_num_threads(1)
    model, g, how, loading_info = build(name, seed)
    if g is None:
        g = torch.Generator().manual_seed(seed * 1000 + 7)
    cfg = model.config
    input_shape = [batch, cfg.num_channels, cfg.image_size, cfg.image_size]
    pixel_values = torch.randn(input_shape, generator=g)
    labels = torch.randint(cfg.num_labels, (batch,), generator=g)

    f32 = run(model, pixel_values, labels, torch.float32, "eager")
    f64 = run(model, pixel_values, labels, torch.float64, "sdpa")  # eager takes its softmax in float32
    f64_eager = run(model, pixel_values, labels, torch.float64, "eager")
    states = [k for k in f32 if k.startswith(("hidden_states.", "attentions."))]
    grads = [k for k in f32 if k.startswith("grad.")]
    forward = ["logits", "loss", "last_hidden_state"] + [k for k in states if k.startswith("hidden_states.")]
    io = {"pixel_values": pixel_values, "labels": labels}
    io.update({k: f32[k] for k in ["logits", "loss", "last_hidden_state"] + states + grads})
    io.update({f"f64.{k}": f64[k] for k in ["logits", "loss", "last_hidden_state"]})
    out_dir = hf_cases.ensure_dir(out_dir)
    meta = {"case": name, "transformers_version": transformers.__version__, "torch_version": torch.__version__}
    hf_cases.write_safetensors(out_dir / "io.safetensors", io, meta)

    def forward_for_check(m):
        with torch.no_grad():
            o = m(pixel_values=pixel_values, labels=labels)
        return {"logits": o.logits, "loss": o.loss}

    per_tensor = {
        k: hf_cases.tolerance_entry(k, f32[k], (f64_eager if k.startswith("attentions.") else f64)[k])
        for k in forward + [k for k in states if k.startswith("attentions.")] + grads
    }
    checks = hf_cases.save_and_check(model, out_dir, forward_for_check) if name != "tiny_meanpool" else None
    if checks is None:  # not a transformers class: save the state dict and config as save_pretrained would
        hf_cases.write_safetensors(out_dir / "model.safetensors", model.state_dict(), {"format": "pt"})
        config = cfg.to_dict()
        config["architectures"] = ["ViTForImageClassification"]
        (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    case = {
        "name": name,
        "about": about,
        "model": type(model).__name__,
        "config_overrides": TINY if name != "from_mae_tiny" else "test/fixtures/hf/tiny/config.json",
        "num_labels": cfg.num_labels,
        "pooling": "mean" if name == "tiny_meanpool" else "cls",
        "attn_implementation": "eager",
        "batch_size": batch,
        "input_shape": input_shape,
        "seed": seed,
        "weights": how,
        "inputs": f"generator torch.Generator().manual_seed({seed}*1000+7) (after the perturbation, where there is "
        "one): pixel_values = torch.randn(input_shape); labels = torch.randint(num_labels, (batch,))",
        "loss": "transformers' ForImageClassification loss: cross entropy, mean over the batch"
        if name != "tiny_meanpool"
        else "torch.nn.functional.cross_entropy(logits, labels), mean over the batch",
        "io_tensors": {
            k: {"dtype": {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}[v.dtype], "shape": list(v.shape)}
            for k, v in io.items()
        },
        "io_notes": {
            "last_hidden_state": "ViTModel output: after vit.layernorm (identity in the mean-pool case)",
            "hidden_states.N": "N=0: embeddings (CLS + every patch); N=i: output of layer i (before vit.layernorm)",
            "attentions.N": "softmax probabilities of layer N, (B, heads, 1+L, 1+L)",
            "grad.*": "d loss / d parameter (float32 autograd), every parameter is trainable; grad.pixel_values too",
            "f64.*": "the same forward in float64 (sdpa attention: pure float64)",
        },
        "tolerance": {
            "how_to_compare": "per tensor T: max|yours - golden| <= per_tensor_f32_vs_f64[T].suggested_atol (= 10x "
            "the float32-vs-float64 error torch itself shows, at least 4 float32 ulps of max|T|; 1000x for "
            "near_zero_reference tensors whose true value is 0: grad of attention key.bias).",
            "forward_summary": hf_cases.summary(f32, f64, forward),
            "grad_summary": hf_cases.summary(f32, f64, grads),
            "per_tensor_f32_vs_f64": per_tensor,
            "exact": ["labels"],
        },
        "versions": hf_cases.versions(["models/vit/modeling_vit.py", "models/vit/configuration_vit.py"]),
    }
    if loading_info is not None:
        case["loading_info"] = loading_info
    if checks is not None:
        case["checks"] = checks
        case["hf_save_pretrained_config_json_would_be"] = hf_cases.saved_config_json(model)
    (out_dir / "case.json").write_text(json.dumps(case, indent=2) + "\n")
    print(f"wrote {out_dir}: {len(io)} tensors in io.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=sorted(CASES))
    ap.add_argument("--out", required=True, help="folder to write (created)")
    ap.add_argument("--compare", metavar="DIR", help="afterwards, compare the new case with this one")
    args = ap.parse_args()
    hf_cases.import_transformers()
    make_case(args.name, *CASES[args.name], args.out)
    if args.compare:
        hf_cases.compare_cases(args.out, args.compare)


if __name__ == "__main__":
    main()
