"""ViTMAE pre-training in plain PyTorch, exactly per docs/SPEC.md (HF ViTMAEForPreTraining semantics).

Module and parameter names follow HF, so a HF state dict loads with load_state_dict(strict=True).
`python3 torch_mae.py --verify DIR...` checks it against the golden HF cases in /wotest/fixtures/hf.
"""
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

DEFAULTS = {  # SPEC §15
    "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
    "hidden_act": "gelu", "layer_norm_eps": 1e-12, "image_size": 224, "patch_size": 16, "num_channels": 3,
    "qkv_bias": True, "decoder_num_attention_heads": 16, "decoder_hidden_size": 512,
    "decoder_num_hidden_layers": 8, "decoder_intermediate_size": 2048, "mask_ratio": 0.75, "norm_pix_loss": False,
}


def config_from(d):
    return {**DEFAULTS, **{k: v for k, v in d.items() if k in DEFAULTS}}


def activation(name):
    if name == "gelu":
        return lambda x: F.gelu(x)  # exact erf form
    if name == "gelu_new":
        return lambda x: F.gelu(x, approximate="tanh")
    raise ValueError(f"hidden_act {name!r} is not supported by the bench's torch peer")


def sincos_table(grid, dim):
    """[1, 1+g², D] (SPEC §2): CLS row 0; row 1+i·g+j = [sin jω, cos jω, sin iω, cos iω]; float64 → float32."""
    if dim % 4:
        raise ValueError(f"sin-cos table: dim {dim} must be divisible by 4")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    i, j = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij")
    i, j = i.reshape(-1, 1) * omega, j.reshape(-1, 1) * omega  # [g², D/4], row-major over (i, j)
    table = torch.cat([torch.sin(j), torch.cos(j), torch.sin(i), torch.cos(i)], dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).unsqueeze(0).float()


class SelfAttention(nn.Module):  # HF names: attention.attention.{query,key,value}
    def __init__(self, dim, heads, qkv_bias):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim, bias=qkv_bias)
        self.key = nn.Linear(dim, dim, bias=qkv_bias)
        self.value = nn.Linear(dim, dim, bias=qkv_bias)

    def forward(self, x):
        B, T, D = x.shape
        hd = D // self.heads
        split = lambda t: t.view(B, T, self.heads, hd).transpose(1, 2)  # (B, H, T, hd)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        probs = torch.softmax(q @ k.transpose(-1, -2) * hd**-0.5, dim=-1)  # (B, H, T, T)
        return (probs @ v).transpose(1, 2).reshape(B, T, D)


class Dense(nn.Module):  # HF wraps these Linears as `<name>.dense`
    def __init__(self, d_in, d_out):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)


class Attention(nn.Module):
    def __init__(self, dim, heads, qkv_bias):
        super().__init__()
        self.attention = SelfAttention(dim, heads, qkv_bias)
        self.output = Dense(dim, dim)

    def forward(self, x):
        return self.output.dense(self.attention(x))


class Layer(nn.Module):
    """HF ViTMAELayer (SPEC §5): h = x + Wo·Attn(LN1(x)); out = h + W2·act(W1·LN2(h))."""

    def __init__(self, dim, heads, mlp, eps, act, qkv_bias=True):
        super().__init__()
        self.attention = Attention(dim, heads, qkv_bias)
        self.intermediate = Dense(dim, mlp)
        self.output = Dense(mlp, dim)
        self.layernorm_before = nn.LayerNorm(dim, eps=eps)
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)
        self.act = activation(act)

    def forward(self, x):
        h = x + self.attention(self.layernorm_before(x))
        return h + self.output.dense(self.act(self.intermediate.dense(self.layernorm_after(h))))


class ViTMAEForPreTraining(nn.Module):
    def __init__(self, config):
        super().__init__()
        c = self.config = config_from(config)
        D, Dd, p, C = c["hidden_size"], c["decoder_hidden_size"], c["patch_size"], c["num_channels"]
        self.grid = c["image_size"] // p
        L = self.grid**2
        eps, act = c["layer_norm_eps"], c["hidden_act"]

        self.vit = nn.Module()
        self.vit.embeddings = nn.Module()
        self.vit.embeddings.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.vit.embeddings.position_embeddings = nn.Parameter(sincos_table(self.grid, D), requires_grad=False)
        self.vit.embeddings.patch_embeddings = nn.Module()
        self.vit.embeddings.patch_embeddings.projection = nn.Conv2d(C, D, kernel_size=p, stride=p)
        self.vit.encoder = nn.Module()
        self.vit.encoder.layer = nn.ModuleList(
            Layer(D, c["num_attention_heads"], c["intermediate_size"], eps, act, c["qkv_bias"])
            for _ in range(c["num_hidden_layers"]))
        self.vit.layernorm = nn.LayerNorm(D, eps=eps)

        self.decoder = nn.Module()
        self.decoder.decoder_embed = nn.Linear(D, Dd)
        self.decoder.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.decoder.decoder_pos_embed = nn.Parameter(sincos_table(self.grid, Dd), requires_grad=False)
        self.decoder.decoder_layers = nn.ModuleList(
            Layer(Dd, c["decoder_num_attention_heads"], c["decoder_intermediate_size"], eps, act, c["qkv_bias"])
            for _ in range(c["decoder_num_hidden_layers"]))
        self.decoder.decoder_norm = nn.LayerNorm(Dd, eps=eps)
        self.decoder.decoder_pred = nn.Linear(Dd, p * p * C)
        assert L == self.vit.embeddings.position_embeddings.shape[1] - 1

    def random_masking(self, x, noise):
        """SPEC §4: keep the len_keep smallest-noise tokens, in ascending-noise order. x: (B, L, D)."""
        B, L, D = x.shape
        len_keep = int(L * (1 - self.config["mask_ratio"]))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, D))  # (B, len_keep, D)
        mask = torch.ones(B, L, device=x.device)
        mask[:, :len_keep] = 0
        return x_masked, torch.gather(mask, 1, ids_restore), ids_restore

    def encode(self, pixel_values, noise):
        e = self.vit.embeddings
        pos = e.position_embeddings
        x = e.patch_embeddings.projection(pixel_values).flatten(2).transpose(1, 2)  # (B, L, D), row-major grid
        x, mask, ids_restore = self.random_masking(x + pos[:, 1:, :], noise)
        cls = (e.cls_token + pos[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)  # CLS after masking (SPEC §3)
        for layer in self.vit.encoder.layer:
            x = layer(x)
        return self.vit.layernorm(x), mask, ids_restore

    def decode(self, h, ids_restore):
        d = self.decoder
        x = d.decoder_embed(h)  # every token, CLS included (SPEC §8)
        B, T, Dd = x.shape
        L = ids_restore.shape[1]
        mask_tokens = d.mask_token.expand(B, L + 1 - T, -1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).expand(-1, -1, Dd))  # unshuffle
        x = torch.cat([x[:, :1, :], x_], dim=1) + d.decoder_pos_embed
        for layer in d.decoder_layers:
            x = layer(x)
        return d.decoder_pred(d.decoder_norm(x))[:, 1:, :]  # drop CLS: (B, L, p²C)

    def patchify(self, pixel_values):
        """(B,C,H,W) → (B,C,gh,p,gw,p) → (B,gh,gw,p,p,C) → (B,L,p²C) (SPEC §10)."""
        B, C, H, W = pixel_values.shape
        p = self.config["patch_size"]
        x = pixel_values.reshape(B, C, H // p, p, W // p, p)
        return torch.einsum("nchpwq->nhwpqc", x).reshape(B, (H // p) * (W // p), p * p * C)

    def forward_loss(self, pixel_values, logits, mask):
        target = self.patchify(pixel_values)
        if self.config["norm_pix_loss"]:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)  # unbiased (SPEC §11)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        loss = ((logits - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, pixel_values, noise):
        h, mask, ids_restore = self.encode(pixel_values, noise)
        logits = self.decode(h, ids_restore)
        return self.forward_loss(pixel_values, logits, mask), logits, mask, ids_restore, h


def adamw_for(model, opt):
    """MAE's AdamW from the bench's optimizer spec: two groups (decay / no decay); frozen tables stay out."""
    named = dict(model.named_parameters())
    frozen, no_decay = set(opt["frozen"]), set(opt["noDecay"])
    for name in frozen:
        named[name].requires_grad_(False)
    decay = [p for n, p in named.items() if n not in frozen and n not in no_decay]
    plain = [p for n, p in named.items() if n in no_decay]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": opt["weightDecay"]}, {"params": plain, "weight_decay": 0.0}],
        lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"])


def verify(case_dir):
    """Runs a golden HF case; returns the worst relative error per output (max|Δ| / max|golden|)."""
    from safetensors_io import read_safetensors

    case_dir = Path(case_dir)
    config = json.loads((case_dir / "config.json").read_text())
    weights = read_safetensors(case_dir / "model.safetensors")
    io = read_safetensors(case_dir / "io.safetensors")
    model = ViTMAEForPreTraining(config)
    model.load_state_dict(weights, strict=True)
    pixel_values = io["pixel_values"].clone().requires_grad_(True)
    loss, logits, mask, ids_restore, h = model(pixel_values, io["noise"])
    loss.backward()
    rel = lambda a, b: float((a.detach().double() - b.double()).abs().max() / max(b.double().abs().max(), 1e-30))
    errors = {
        "loss": rel(loss, io["loss"]), "logits": rel(logits, io["logits"]),
        "last_hidden_state": rel(h, io["last_hidden_state"]),
        "mask": rel(mask, io["mask"]), "ids_restore": float((ids_restore != io["ids_restore"]).sum()),
        "grad.pixel_values": rel(pixel_values.grad, io["grad.pixel_values"]),
    }
    worst_grad, worst_name = 0.0, ""
    for name, p in model.named_parameters():
        # key biases get a mathematically zero gradient (softmax shift invariance): their golden is float noise.
        if p.grad is None or name.endswith("key.bias"):
            continue
        e = rel(p.grad, io[f"grad.{name}"])
        if e > worst_grad:
            worst_grad, worst_name = e, name
    errors["grad (worst param)"] = worst_grad
    errors["grad (worst param) name"] = worst_name
    return errors


TOLERANCES = {"loss": 1e-5, "logits": 1e-5, "last_hidden_state": 1e-5, "mask": 0, "ids_restore": 0,
              "grad.pixel_values": 3e-5, "grad (worst param)": 3e-5}


def main(argv):
    if len(argv) < 2 or argv[0] != "--verify":
        print("usage: torch_mae.py --verify CASE_DIR...", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).parent))
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    torch.manual_seed(0)
    ok = True
    for case_dir in argv[1:]:
        errors = verify(case_dir)
        bad = [k for k, tol in TOLERANCES.items() if not errors[k] <= tol]
        ok = ok and not bad
        print(json.dumps({"case": case_dir, "ok": not bad, "failed": bad, "errors": errors}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
