// Splittable PRNG keys (JAX style) on the Threefry-2x32 counter-based generator (Salmon et al. 2011).
//
// A key is an immutable pair of 32-bit words. Nothing here has state: the same key always gives
// the same numbers, on every backend, and `split` derives independent child keys. Each use of a
// key is domain-separated by the counter's second word, so `randomBits(k)` and `split(k)` never
// overlap.

/** An immutable PRNG key. Make one with `key(seed)`; derive more with `split` or `foldIn`. */
export class Key {
  private constructor(
    readonly hi: number,
    readonly lo: number,
    /** @internal Set on the stand-in for a key that is an argument of a jit-compiled function. */
    readonly placeholder?: number,
  ) {
    Object.freeze(this);
  }
  /** @internal Builds a key from two uint32 words (already validated). */
  static fromWords(hi: number, lo: number): Key {
    return new Key(hi >>> 0, lo >>> 0);
  }
  /** @internal A stand-in whose words are known only when a compiled plan runs. */
  static placeholder(id: number): Key {
    return new Key(0, 0, id);
  }
  /** The two words, for checkpoints: `keyFromData(k.toJSON())` gives `k` back. */
  toJSON(): [number, number] {
    checkConcrete(this, "toJSON");
    return [this.hi, this.lo];
  }
  toString(): string {
    return this.placeholder === undefined ? `Key(${this.hi}, ${this.lo})` : `Key(traced #${this.placeholder})`;
  }
}

/** How a key was derived from its parent (jit replays these when its plan runs). */
export type Derivation =
  | { readonly kind: "split"; readonly index: number }
  | { readonly kind: "foldIn"; readonly data: number };

/** While jit traces, derivations of stand-in keys go through here. */
let tracer: ((parent: Key, how: Derivation) => Key) | undefined;

/** @internal Installs (or removes) the jit's key tracer. */
export function setKeyTracer(t: typeof tracer): typeof tracer {
  const outer = tracer;
  tracer = t;
  return outer;
}

function checkConcrete(k: Key, where: string): void {
  if (k.placeholder !== undefined) {
    throw new KeyError(
      `${where}: this key is an argument of a jit-compiled function; its value exists only when it runs`,
    );
  }
}

/** The child key of `k` for one derivation (the spec jit's replay follows). */
export function derive(k: Key, how: Derivation): Key {
  if (how.kind === "split") {
    const [a, b] = threefry2x32(k.hi, k.lo, how.index, DOMAIN_SPLIT);
    return Key.fromWords(a, b);
  }
  const [a, b] = threefry2x32(k.hi, k.lo, how.data >>> 0, DOMAIN_FOLD + 4 * Math.floor(how.data / 2 ** 32));
  return Key.fromWords(a, b);
}

/** derive(), or its recording when k stands for a jit argument. */
function child(k: Key, how: Derivation): Key {
  if (k.placeholder === undefined) return derive(k, how);
  if (!tracer) throw new KeyError("a traced key was used outside the jit-compiled function it belongs to");
  return tracer(k, how);
}

/** A key that is not a Key, or a seed that is not an integer. */
export class KeyError extends Error {
  override name = "KeyError";
}

/** A key from an integer seed (any safe integer; negative seeds are fine). */
export function key(seed: number): Key {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new KeyError(`key(seed): seed must be a safe integer, got ${String(seed)}`);
  }
  const hi = Math.floor(seed / 2 ** 32);
  return Key.fromWords(hi, seed - hi * 2 ** 32);
}

/** A key from the two words `Key.toJSON()` wrote. */
export function keyFromData(words: unknown): Key {
  const ok =
    Array.isArray(words) && words.length === 2 && words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32);
  if (!ok) throw new KeyError(`keyFromData: expected two uint32 words, got ${JSON.stringify(words)}`);
  return Key.fromWords(words[0], words[1]);
}

/** Throws a KeyError naming `where` unless `k` is a Key. */
export function checkKey(k: unknown, where: string): Key {
  if (!(k instanceof Key)) {
    throw new KeyError(`${where}: expected a PRNG key made by key(seed) or split(), got ${describe(k)}`);
  }
  return k;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "object") return v.constructor?.name ?? "object";
  return `${typeof v} ${String(v)}`;
}

// ---- Threefry-2x32, 20 rounds, as in Random123 and JAX ----

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24];

const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;

/** Encrypts the counter (c0, c1) under key (k0, k1); returns two uint32 words. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let block = 0; block < 5; block++) {
    const rot = block % 2 === 0 ? 0 : 4;
    for (let r = 0; r < 4; r++) {
      x0 = (x0 + x1) >>> 0;
      x1 = rotl(x1, ROTATIONS[rot + r]) ^ x0;
    }
    // Key injection after every four rounds.
    x0 = (x0 + ks[(block + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(block + 2) % 3] + block + 1) >>> 0;
  }
  return [x0, x1];
}

// Counter domains: the second counter word says what the output is for.
const DOMAIN_BITS = 0;
const DOMAIN_SPLIT = 1;
const DOMAIN_FOLD = 2;

/** `n` independent keys derived from `k`. */
export function split(k: Key, n = 2): Key[] {
  checkKey(k, "split");
  if (!Number.isInteger(n) || n < 1) throw new KeyError(`split: n must be a positive integer, got ${n}`);
  return Array.from({ length: n }, (_, index) => child(k, { kind: "split", index }));
}

/** A key derived from `k` and an integer (a step number, a layer index …). */
export function foldIn(k: Key, data: number): Key {
  checkKey(k, "foldIn");
  if (!Number.isSafeInteger(data)) throw new KeyError(`foldIn: data must be a safe integer, got ${data}`);
  return child(k, { kind: "foldIn", data });
}

/** `n` uniformly random uint32 words. */
export function randomBits(k: Key, n: number): Uint32Array {
  checkKey(k, "randomBits");
  checkConcrete(k, "randomBits");
  const out = new Uint32Array(n);
  for (let j = 0; 2 * j < n; j++) {
    const [a, b] = threefry2x32(k.hi, k.lo, j, DOMAIN_BITS);
    out[2 * j] = a;
    if (2 * j + 1 < n) out[2 * j + 1] = b;
  }
  return out;
}

/** `n` floats uniform in [0, 1), each exactly representable in float32 (23 random bits). */
export function uniformArray(k: Key, n: number): Float64Array {
  const bits = randomBits(k, n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (bits[i] >>> 9) * 2 ** -23;
  return out;
}

/** `n` standard normal draws, by the inverse CDF of a uniform in (0, 1). */
export function normalArray(k: Key, n: number): Float64Array {
  const u = uniformArray(k, n);
  // Shift by half a step so that u is never 0 (erfinv(-1) = -inf).
  for (let i = 0; i < n; i++) u[i] = Math.SQRT2 * erfinv(2 * (u[i] + 2 ** -24) - 1, 0);
  return u;
}

/** `n` standard normal draws truncated to [lower, upper], by the inverse CDF (no rejection loop). */
export function truncatedNormalArray(k: Key, n: number, lower = -2, upper = 2): Float64Array {
  if (!(lower < upper)) throw new RangeError(`truncatedNormal: need lower < upper, got [${lower}, ${upper}]`);
  const cdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
  const lo = cdf(lower);
  const hi = cdf(upper);
  const u = uniformArray(k, n);
  for (let i = 0; i < n; i++) {
    const p = lo + (hi - lo) * (u[i] + 2 ** -24);
    const x = Math.SQRT2 * erfinv(2 * p - 1);
    u[i] = Math.min(upper, Math.max(lower, x));
  }
  return u;
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates on 32-bit draws). */
export function permutationArray(k: Key, n: number): Int32Array {
  const bits = randomBits(k, n);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor((bits[i] / 2 ** 32) * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

// ---- erf and its inverse in double precision (shared with the erf op's reference kernel) ----

/** erf(x) to ~1e-15 relative (W. J. Cody's rational approximations). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 0.5) {
    // erf(x) = x·P(x²)/Q(x²)
    const t = x * x;
    const p =
      (((0.185777706184603153 * t + 3.1611237438705656) * t + 113.864154151050156) * t + 377.485237685302021) * t +
      3209.37758913846947;
    const q =
      (((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062;
    return (x * p) / q;
  }
  return x > 0 ? 1 - erfc(ax) : erfc(ax) - 1;
}

const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);

/** erfc(|x|) for |x| >= 0.5, Cody's rational approximations (Horner forms written out: GELU calls it per element). */
function erfc(ax: number): number {
  if (ax >= 27) return 0;
  let r: number;
  if (ax < 4) {
    const num =
      (((((((2.15311535474403846e-8 * ax + 5.64188496988670089e-1) * ax + 8.88314979438837594) * ax +
        6.61191906371416295e1) *
        ax +
        2.98635138197400131e2) *
        ax +
        8.8195222124176909e2) *
        ax +
        1.71204761263407058e3) *
        ax +
        2.05107837782607147e3) *
        ax +
      1.23033935479799725e3;
    const den =
      (((((((ax + 1.57449261107098347e1) * ax + 1.17693950891312499e2) * ax + 5.37181101862009858e2) * ax +
        1.62138957456669019e3) *
        ax +
        3.29079923573345963e3) *
        ax +
        4.36261909014324716e3) *
        ax +
        3.43936767414372164e3) *
        ax +
      1.23033935480374942e3;
    r = num / den;
  } else {
    const z = 1 / (ax * ax);
    const num =
      z *
      (((((1.63153871373020978e-2 * z + 3.05326634961232344e-1) * z + 3.60344899949804439e-1) * z +
        1.25781726111229246e-1) *
        z +
        1.60837851487422766e-2) *
        z +
        6.58749161529837803e-4);
    const den =
      ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 5.27905102951428412e-1) * z +
        6.05183413124413191e-2) *
        z +
      2.33520497626869185e-3;
    r = (INV_SQRT_PI - num / den) / ax;
  }
  // One exp: the rounding of x² costs at most ~x²·2⁻⁵³ relative, far below float32's resolution.
  return Math.exp(-ax * ax) * r;
}

/**
 * Inverse of erf on (-1, 1): Giles' approximation (≈ float32-accurate), refined by Newton steps
 * (two give double precision; samplers that round to float32 use none).
 */
export function erfinv(y: number, newtonSteps = 2): number {
  if (y <= -1) return y === -1 ? -Infinity : NaN;
  if (y >= 1) return y === 1 ? Infinity : NaN;
  let w = -Math.log((1 - y) * (1 + y));
  let x: number;
  if (w < 5) {
    w -= 2.5;
    let p = 2.81022636e-8;
    for (const c of [
      3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
      1.50140941,
    ])
      p = c + p * w;
    x = p * y;
  } else {
    w = Math.sqrt(w) - 3;
    let p = -0.000200214257;
    for (const c of [
      0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406,
      2.83297682,
    ])
      p = c + p * w;
    x = p * y;
  }
  for (let i = 0; i < newtonSteps; i++) {
    const err = erf(x) - y;
    x -= err / ((2 / Math.sqrt(Math.PI)) * Math.exp(-x * x));
  }
  return x;
}
