// Random draws in WGSL: the counter-based Threefry-2x32 generator of src/core/prng.ts (the spec),
// one invocation per counter j giving elements 2j and 2j+1, then the same transforms as the
// reference in float32: uniform from the top 23 bits, normal and truncated normal by Giles'
// inverse erf (the reference's, without Newton steps), bernoulli by comparison.

import type { Distribution, KeyWords, Target } from "../../backend.ts";
import { erf } from "../../prng.ts";
import { baseOf, bindOperands, element, grid, launch, Params, targetOperand } from "./bindings.ts";
import type { GpuQueue } from "./gpuQueue.ts";
import { WGSL_MATH } from "./wgslMath.ts";

const WG = 256;
const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24];

/** threefry2x32(k0, k1, c0, c1) in WGSL: five blocks of four rounds, a key injection after each. */
function threefry(): string {
  const lines = ["let k2 = k0 ^ k1 ^ 0x1bd11bdau;", "var x0 = c0 + k0;", "var x1 = c1 + k1;"];
  const ks = ["k0", "k1", "k2"];
  for (let block = 0; block < 5; block++) {
    const rot = block % 2 === 0 ? 0 : 4;
    for (let r = 0; r < 4; r++) {
      const n = ROTATIONS[rot + r];
      lines.push("x0 = x0 + x1;", `x1 = ((x1 << ${n}u) | (x1 >> ${32 - n}u)) ^ x0;`);
    }
    lines.push(`x0 = x0 + ${ks[(block + 1) % 3]};`, `x1 = x1 + ${ks[(block + 2) % 3]} + ${block + 1}u;`);
  }
  return `fn threefry(k0: u32, k1: u32, c0: u32, c1: u32) -> vec2<u32> {
  ${lines.join("\n  ")}
  return vec2<u32>(x0, x1);
}`;
}

/**
 * low + span·u for u = m·2^-23 within an ulp of the float64 value the reference rounds (a plain
 * float32 evaluation rounds twice, and near 0 that is far from the reference): low and span come as
 * float32 pairs (hi + lo: the float64 parameters), span's hi and m split in 12-bit halves so the
 * four partial products are exact, all summed with TwoSum (Knuth) compensation.
 */
const AFFINE = `fn two_sum(a: f32, b: f32) -> vec2<f32> {
  let s = a + b;
  let bb = s - a;
  return vec2<f32>(s, (a - (s - bb)) + (b - bb));
}
fn affine(low: vec2<f32>, span: vec2<f32>, m: u32) -> f32 {
  let sh = bitcast<f32>(bitcast<u32>(span.x) & 0xfffff000u);
  let sl = span.x - sh;
  let mh = f32(m >> 12u) * 4096.0;
  let ml = f32(m & 0xfffu);
  let parts = array<f32, 5>(sh * mh, sh * ml, sl * mh, sl * ml, span.y * f32(m));
  var acc = vec2<f32>(low.x, low.y);
  for (var i = 0; i < 5; i++) {
    let t = two_sum(acc.x, parts[i] * ${2 ** -23});
    acc = vec2<f32>(t.x, acc.y + t.y);
  }
  return acc.x + acc.y;
}`;

/** A float64 as two float32s (hi + lo), as a WGSL vec2 over parameters. */
function pairOf(p: Params, x: number): string {
  const hi = Math.fround(x);
  return `vec2<f32>(${p.f(hi)}, ${p.f(x - hi)})`;
}

/** Giles' single-precision inverse erf (prng.ts's erfinv with no Newton steps). */
const ERFINV = `fn erfinv(y: f32) -> f32 {
  if (y <= -1.0) { return select(f32_bits(0x7fc00000u), -f32_bits(0x7f800000u), y == -1.0); }
  if (y >= 1.0) { return select(f32_bits(0x7fc00000u), f32_bits(0x7f800000u), y == 1.0); }
  var w = -log((1.0 - y) * (1.0 + y));
  var p: f32;
  if (w < 5.0) {
    w = w - 2.5;
    p = 2.81022636e-8;
    p = 3.43273939e-7 + p * w; p = -3.5233877e-6 + p * w; p = -4.39150654e-6 + p * w;
    p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w; p = 1.50140941 + p * w;
  } else {
    w = sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w; p = 2.83297682 + p * w;
  }
  return p * y;
}`;

const RANDOM_HELPERS = [WGSL_MATH, threefry(), ERFINV, AFFINE].join("\n");

/** The draw for uniform u ∈ [0, 1) of word w (`half`: u + 2^-24, never 0), as WGSL over parameters. */
function transform(p: Params, dist: Distribution): string {
  switch (dist.kind) {
    case "uniform":
      return `affine(${pairOf(p, dist.low)}, ${pairOf(p, dist.high - dist.low)}, w >> 9u)`;
    case "normal":
      return `${p.f(dist.mean)} + ${p.f(dist.std)} * (1.4142135623730951 * erfinv(2.0 * half - 1.0))`;
    case "truncatedNormal": {
      // erfinv's argument 2p - 1 = A + B·half (A = 2·cdf(lower) - 1, B = 2·(cdf(upper) - cdf(lower)))
      // cancels near the median; written B·((half - h0) - h0′) with h0 + h0′ = -A/B in float64
      // (split into two float32s), half - h0 is exact there (Sterbenz), so draws near 0 keep
      // their relative accuracy.
      const lo = 0.5 * (1 + erf(dist.lower / Math.SQRT2));
      const hi = 0.5 * (1 + erf(dist.upper / Math.SQRT2));
      const b = 2 * (hi - lo);
      const h0 = -(2 * lo - 1) / b;
      const h0hi = Math.fround(h0);
      const x = `1.4142135623730951 * erfinv(${p.f(b)} * ((half - ${p.f(h0hi)}) - ${p.f(h0 - h0hi)}))`;
      return `clamp(${x}, ${p.f(dist.lower)}, ${p.f(dist.upper)}) * ${p.f(dist.std)}`;
    }
    case "bernoulli":
      return `select(0.0, 1.0, u < ${p.f(dist.p)})`;
  }
}

export function random(queue: GpuQueue, dist: Distribution, key: KeyWords, n: number, out: Target): void {
  if (n === 0) return;
  const bound = bindOperands(queue, [targetOperand(out, n, "random output")], 8)!;
  const p = new Params();
  const pairs = Math.ceil(n / 2);
  const { groups, rowThreads } = grid(pairs, WG, queue.gpu.limits.maxComputeWorkgroupsPerDimension);
  const base = baseOf(p, bound, 0, out.offset);
  const draw = (word: string) => [
    `  let u = f32(${word} >> 9u) * ${2 ** -23};`,
    `  let half = u + ${2 ** -24};`,
    `  return ${transform(p, dist)};`,
  ];
  const main = `fn draw_word(w: u32) -> f32 {
${draw("w").join("\n")}
}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x + gid.y * ${p.u(rowThreads)};
  if (j >= ${p.u(pairs)}) { return; }
  let words = threefry(${p.u(key.hi)}, ${p.u(key.lo)}, j, 0u);
  ${element(bound, 0, `${base} + i32(2u * j)`)} = draw_word(words.x);
  if (2u * j + 1u < ${p.u(n)}) { ${element(bound, 0, `${base} + i32(2u * j + 1u)`)} = draw_word(words.y); }
}`;
  launch(queue, { params: p, bound, main, groups, label: "random" }, RANDOM_HELPERS);
}
