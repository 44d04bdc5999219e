// Float32 math in WGSL with JavaScript's semantics (the reference backend's): NaN and ±Infinity
// where Math gives them, signed zeros, pow's special cases. WGSL leaves NaN/Inf behaviour and the
// accuracy of sin/cos outside [-π, π] to the implementation, so NaN tests are bit tests, sin/cos
// reduce their argument themselves (Cody–Waite, Cephes polynomials), and erf/Φ use the rational
// and series approximations of the gpu.js kernels (gpujsKernels.ts): float32-accurate.

import type { BinaryOp, UnaryOp } from "../../backend.ts";

/** Helper functions every kernel may call (unused ones cost nothing: the compiler drops them). */
export const WGSL_MATH = /* wgsl */ `
// (a call, not a const: a constant expression that is NaN or infinite is a WGSL compile error)
fn f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn sign_bit(x: f32) -> bool { return (bitcast<u32>(x) & 0x80000000u) != 0u; }
fn f_abs(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) & 0x7fffffffu); }
fn f_log(x: f32) -> f32 {
  if (is_nan(x) || x < 0.0) { return f32_bits(0x7fc00000u); }
  if (x == 0.0) { return -f32_bits(0x7f800000u); }
  if (is_inf(x)) { return f32_bits(0x7f800000u); }
  return log(x);
}
fn f_sqrt(x: f32) -> f32 {
  if (is_nan(x) || x < 0.0) { return f32_bits(0x7fc00000u); }
  if (is_inf(x)) { return f32_bits(0x7f800000u); }
  return sqrt(x);
}
fn f_exp(x: f32) -> f32 {
  if (is_nan(x)) { return f32_bits(0x7fc00000u); }
  if (x > 88.72284) { return f32_bits(0x7f800000u); }
  if (x < -103.97208) { return 0.0; }
  return exp(x);
}
fn f_tanh(a: f32) -> f32 {
  if (is_nan(a)) { return f32_bits(0x7fc00000u); }
  let u = f_abs(a);
  let s = u * u;
  let e = exp(-2.0 * min(u, 20.0));
  var t = (1.0 - e) / (1.0 + e);
  if (u < 0.25) { t = u * (1.0 + s * (-0.3333333333 + s * (0.1333333333 + s * (-0.05396825397 + s * 0.02186948854)))); }
  return select(t, -t, a < 0.0);
}
fn f_erf(a: f32) -> f32 {
  if (is_nan(a)) { return f32_bits(0x7fc00000u); }
  let u = f_abs(a);
  let s = u * u;
  var r: f32;
  if (u < 0.5) {
    r = 1.128379167 * u * (1.0 + s * (-0.3333333333 + s * (0.1 + s * (-0.02380952381 + s * (0.00462962963 - s * 0.0007575757576)))));
  } else {
    let t = 1.0 / (1.0 + 0.3275911 * u);
    r = 1.0 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * exp(-min(s, 100.0));
  }
  return select(r, -r, a < 0.0);
}
// Φ(a), the standard normal CDF, from erfc (Numerical Recipes' erfcc, fractional error < 1.2e-7).
fn normal_cdf(a: f32) -> f32 {
  let z = min(f_abs(a) * 0.7071067811865476, 30.0);
  let t = 1.0 / (1.0 + 0.5 * z);
  let erfc = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(1.0 - 0.5 * erfc, 0.5 * erfc, a < 0.0);
}
fn f_gelu(a: f32) -> f32 {
  if (is_nan(a)) { return f32_bits(0x7fc00000u); }
  if (is_inf(a)) { return select(f32_bits(0x7f800000u), f32_bits(0x7fc00000u), a < 0.0); }
  return a * normal_cdf(a);
}
fn f_gelu_derivative(a: f32) -> f32 {
  if (is_nan(a)) { return f32_bits(0x7fc00000u); }
  if (is_inf(a)) { return select(1.0, 0.0, a < 0.0); }
  return normal_cdf(a) + a * 0.3989422804014327 * exp(-0.5 * min(a * a, 200.0));
}
fn f_sigmoid(a: f32) -> f32 {
  if (is_nan(a)) { return f32_bits(0x7fc00000u); }
  return 1.0 / (1.0 + f_exp(-a));
}
// sin and cos: x = q·π/2 + r with |r| <= π/4 (π/2 in three parts, so r is exact for |x| < ~1e4).
fn sin_poly(r: f32) -> f32 {
  let z = r * r;
  return ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
}
fn cos_poly(r: f32) -> f32 {
  let z = r * r;
  return ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
}
fn quadrant_sin(x: f32, shift: f32) -> f32 {
  if (!is_finite(x)) { return f32_bits(0x7fc00000u); }
  let q = round(x * 0.6366197723675814);
  let r = ((x - q * 1.5703125) - q * 4.837512969970703125e-4) - q * 7.549789954891886e-8;
  let k = (q + shift) - 4.0 * floor((q + shift) * 0.25);
  if (k == 0.0) { return sin_poly(r); }
  if (k == 1.0) { return cos_poly(r); }
  if (k == 2.0) { return -sin_poly(r); }
  return -cos_poly(r);
}
fn f_sin(x: f32) -> f32 { if (x == 0.0) { return x; } return quadrant_sin(x, 0.0); }
fn f_cos(x: f32) -> f32 { return quadrant_sin(x, 1.0); }
fn f_sign(x: f32) -> f32 {
  if (x > 0.0) { return 1.0; }
  if (x < 0.0) { return -1.0; }
  return x;
}
fn f_relu(x: f32) -> f32 {
  if (x > 0.0 || is_nan(x)) { return x; }
  return 0.0;
}
fn is_odd_integer(b: f32) -> bool {
  return floor(b) == b && f_abs(b) < 16777216.0 && (b - 2.0 * floor(b * 0.5)) != 0.0;
}
// JavaScript's Math.pow in float32.
fn f_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (is_nan(a) || is_nan(b)) { return f32_bits(0x7fc00000u); }
  let m = f_abs(a);
  if (is_inf(b)) {
    if (m == 1.0) { return f32_bits(0x7fc00000u); }
    return select(0.0, f32_bits(0x7f800000u), (m > 1.0) == (b > 0.0));
  }
  let negative = sign_bit(a) && is_odd_integer(b);
  if (m == 0.0 || is_inf(m)) {
    let r = select(0.0, f32_bits(0x7f800000u), (m == 0.0) == (b < 0.0));
    return select(r, -r, negative);
  }
  if (a < 0.0 && floor(b) != b) { return f32_bits(0x7fc00000u); }
  var r: f32;
  if (floor(b) == b && f_abs(b) <= 8.0) {
    // small integer powers by products: squares and cubes come out correctly rounded
    r = 1.0;
    for (var k = 0.0; k < f_abs(b); k += 1.0) { r = r * m; }
    if (b < 0.0) { r = 1.0 / r; }
  } else {
    r = exp2(b * log2(m));
  }
  return select(r, -r, negative);
}
fn f_maximum(a: f32, b: f32) -> f32 {
  if (is_nan(a) || is_nan(b)) { return f32_bits(0x7fc00000u); }
  return select(b, a, a > b);
}
fn f_minimum(a: f32, b: f32) -> f32 {
  if (is_nan(a) || is_nan(b)) { return f32_bits(0x7fc00000u); }
  return select(b, a, a < b);
}
`;

/** A float32 constant as WGSL, bit for bit (NaN, ±Infinity and -0 included). */
export function f32Literal(value: number): string {
  const bits = new Uint32Array(Float32Array.of(value).buffer)[0];
  return `f32_bits(0x${bits.toString(16)}u)`;
}

export const UNARY_WGSL: { [P in UnaryOp]: (x: string) => string } = {
  identity: (x) => x,
  neg: (x) => `(-${x})`,
  exp: (x) => `f_exp(${x})`,
  log: (x) => `f_log(${x})`,
  sqrt: (x) => `f_sqrt(${x})`,
  rsqrt: (x) => `(1.0 / f_sqrt(${x}))`,
  abs: (x) => `f_abs(${x})`,
  tanh: (x) => `f_tanh(${x})`,
  erf: (x) => `f_erf(${x})`,
  sigmoid: (x) => `f_sigmoid(${x})`,
  relu: (x) => `f_relu(${x})`,
  sin: (x) => `f_sin(${x})`,
  cos: (x) => `f_cos(${x})`,
  sign: (x) => `f_sign(${x})`,
  floor: (x) => `floor(${x})`,
  gelu: (x) => `f_gelu(${x})`,
  geluDerivative: (x) => `f_gelu_derivative(${x})`,
};

const bool = (e: string) => `select(0.0, 1.0, ${e})`;

export const BINARY_WGSL: { [P in BinaryOp]: (a: string, b: string) => string } = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  pow: (a, b) => `f_pow(${a}, ${b})`,
  maximum: (a, b) => `f_maximum(${a}, ${b})`,
  minimum: (a, b) => `f_minimum(${a}, ${b})`,
  eq: (a, b) => bool(`${a} == ${b}`),
  ne: (a, b) => bool(`!(${a} == ${b})`),
  lt: (a, b) => bool(`${a} < ${b}`),
  le: (a, b) => bool(`${a} <= ${b}`),
  gt: (a, b) => bool(`${a} > ${b}`),
  ge: (a, b) => bool(`${a} >= ${b}`),
};

/** where(c, x, y): x where c ≠ 0 (NaN counts as non-zero), else y. */
export const WHERE_WGSL = (c: string, x: string, y: string) => `select(${y}, ${x}, !(${c} == 0.0))`;
