// jit against eager: the same numbers (within float32 rounding) on the HF reference cases and on
// random programs; inputs vs constants (a changed lr or key changes the result, a changed shape
// recompiles); donation; memory planned by liveness; clear errors for what cannot be compiled.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import type { Tensor } from "../../src/core/index.ts";
import { leaves, valueAndGrad } from "../../src/autodiff/index.ts";
import { jit } from "../../src/jit/index.ts";
import { forward, loadPreTraining, namedParameters, type PreTrainingParams } from "../../src/mae/index.ts";
import { adamwStep, initAdamW, maeDecay } from "../../src/nn/adamw.ts";
import { loadReferenceCase, referenceCaseNames, values } from "../helpers/reference.ts";
import { shapeArb, valuesArb } from "../helpers/tensors.ts";

/** max |a - b| ≤ tol · max(1, |b|) elementwise. */
function close(a: Tensor, b: Tensor, tol: number, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const [x, y] = [a.toFloat64Array(), b.toFloat64Array()];
  for (let i = 0; i < x.length; i++) {
    const ok = Object.is(x[i], y[i]) || Math.abs(x[i] - y[i]) <= tol * Math.max(1, Math.abs(y[i]));
    assert.ok(ok, `${what}[${i}]: jit ${x[i]}, eager ${y[i]}`);
  }
}

for (const name of referenceCaseNames()) {
  test(`jit(valueAndGrad(forward)) equals eager on the HF case ${name}: loss, logits and every gradient`, () => {
    const c = loadReferenceCase(name);
    const params = loadPreTraining(c.modelDir).params;
    const pixels = T.fromArray(values(c.io.get("pixel_values")!), c.io.get("pixel_values")!.shape);
    const noise = T.fromArray(values(c.io.get("noise")!), c.io.get("noise")!.shape);
    const interpolate = c.json.flags.interpolate_pos_encoding;
    const lossAndGrad = (p: PreTrainingParams, x: Tensor, n: Tensor) =>
      valueAndGrad(
        (q: PreTrainingParams, y: Tensor) => {
          const out = forward(q, c.config, y, { noise: n, interpolatePosEncoding: interpolate });
          return [out.loss, out.logits];
        },
        { argnums: [0, 1], hasAux: true },
      )(p, x);
    const eager = lossAndGrad(params, pixels, noise);
    const compiled = jit(lossAndGrad);
    const fast = compiled(params, pixels, noise);
    close(fast[0], eager[0], 1e-5, "loss");
    close(fast[2], eager[2], 1e-5, "logits");
    const [gp, gx] = fast[1] as [PreTrainingParams, Tensor];
    const [ep, ex] = eager[1] as [PreTrainingParams, Tensor];
    const eagerNamed = namedParameters(ep);
    for (const [n, g] of namedParameters(gp)) close(g, eagerNamed.get(n)!, 1e-5, `grad ${n}`);
    close(gx, ex, 1e-5, "grad pixel_values");
    // Run again with the same plan: the same numbers, bit for bit.
    close(compiled(params, pixels, noise)[0], fast[0], 0, "loss, second call");
    assert.equal(compiled.traces, 1);
  });
}

/** A random composite of elementwise ops, reductions, matmul and views, as a function of (a, b). */
const programs: ((a: Tensor, b: Tensor) => Tensor)[] = [
  (a, b) => T.sum(T.mul(T.exp(T.mul(a, 0.5)), T.tanh(b))),
  (a, b) => T.mean(T.softmax(T.add(a, b), -1)),
  (a, b) => T.sum(T.matmul(T.gelu(a), T.transpose(b))),
  (a, b) =>
    T.sum(
      T.layerNorm(T.sub(a, b), T.ones([a.shape[a.shape.length - 1]]), T.zeros([a.shape[a.shape.length - 1]]), 1e-5),
    ),
  (a, b) => T.sum(T.where(T.greater(a, b), T.sqrt(T.abs(a)), T.square(b))),
  (a, b) => T.max(T.concat([T.reshape(a, [-1]), T.reshape(T.permute(b, [1, 0]), [-1])])),
];

test("jit equals eager, values and gradients, on random inputs to composite programs (property)", () => {
  fc.assert(
    fc.property(
      shapeArb(2, 2, 5, 1).chain((s) =>
        fc.tuple(fc.constant(s), valuesArb(s[0] * s[1]), valuesArb(s[0] * s[1]), fc.nat(programs.length - 1)),
      ),
      ([shape, va, vb, which]) => {
        const [a, b] = [T.fromArray(va, shape), T.fromArray(vb, shape)];
        const f = valueAndGrad(programs[which], { argnums: [0, 1] });
        const [ve, [gae, gbe]] = f(a, b);
        const [vj, [gaj, gbj]] = jit(f)(a, b);
        close(vj, ve, 1e-5, `program ${which} value`);
        close(gaj, gae, 1e-5, `program ${which} grad a`);
        close(gbj, gbe, 1e-5, `program ${which} grad b`);
      },
    ),
    { numRuns: 30 },
  );
});

test("tensors and keys are inputs: a new lr or key changes the result without recompiling; a new shape recompiles", () => {
  const step = jit((w: Tensor, lr: Tensor, k: T.Key) => T.sub(w, T.mul(T.random.normal(k, w.shape), lr)));
  const w = T.ones([3]);
  const a = step(w, T.scalar(0.1), T.key(1)).toArray();
  const b = step(w, T.scalar(0.2), T.key(1)).toArray();
  const c = step(w, T.scalar(0.1), T.key(2)).toArray();
  assert.notDeepEqual(a, b, "lr is an input");
  assert.notDeepEqual(a, c, "the key is an input");
  assert.deepEqual(step(w, T.scalar(0.1), T.key(1)).toArray(), a, "same inputs, same result");
  assert.equal(step.traces, 1);
  step(T.ones([4]), T.scalar(0.1), T.key(1));
  assert.equal(step.traces, 2, "a new shape traces again");
  // Keys derived inside (split / foldIn) give the eager numbers.
  const draw = (k: T.Key) => T.random.uniform(T.random.foldIn(T.random.split(k, 3)[2], 7), [5]);
  assert.deepEqual(jit(draw)(T.key(9)).toArray(), draw(T.key(9)).toArray());
});

test("static leaves are baked in: a changed number compiles a new plan and gives its own answer", () => {
  const scale = jit((x: Tensor, s: number) => T.mul(x, s));
  assert.deepEqual(scale(T.ones([2]), 2).toArray(), Float32Array.from([2, 2]));
  assert.deepEqual(scale(T.ones([2]), 3).toArray(), Float32Array.from([3, 3]));
  assert.equal(scale.traces, 2);
});

test("a jit-compiled AdamW step with donated parameters and state updates in place and matches eager", () => {
  const c = loadReferenceCase("tiny");
  const params = loadPreTraining(c.modelDir).params;
  const named = namedParameters(params);
  const grads = new Map([...named].map(([n, p]) => [n, T.mul(T.ones(p.shape), 1e-3)]));
  const opts = { decay: maeDecay };
  const cfg = { betas: [0.9, 0.95] as [number, number], eps: 1e-8, weightDecay: 0.05 };
  const eager = adamwStep(named, grads, initAdamW(named), cfg, { ...opts, lr: 0.01 });
  const step = jit(
    (p: Map<string, Tensor>, g: Map<string, Tensor>, s: ReturnType<typeof initAdamW>, lr: Tensor) =>
      adamwStep(p, g, s, cfg, { ...opts, lr }),
    { donate: [0, 2] },
  );
  const copies = new Map([...named].map(([n, p]) => [n, T.add(p, 0)]));
  const state = initAdamW(copies);
  const out = step(copies, grads, state, T.scalar(0.01));
  for (const [n, p] of out.params) close(p, eager.params.get(n)!, 1e-6, n);
  // Donated parameters were updated in place: no output storage was allocated for them.
  const paramBytes = leaves([...named.values()]).reduce((s, t) => s + t.size * 4, 0);
  assert.ok(
    step.memory()!.outputBytes < paramBytes / 2,
    `outputs ${step.memory()!.outputBytes} B for ${paramBytes} B of parameters`,
  );
  assert.throws(() => [...copies.values()][0].toArray(), /donated to a jit-compiled function/);
});

test("intermediate buffers are reused by liveness: the arena is far smaller than all intermediates together", () => {
  const f = jit((x: Tensor) => {
    let h = x;
    for (let i = 0; i < 20; i++) h = T.softmax(T.matmul(h, T.transpose(h)), -1); // 20 kernels-worth of [64, 64]
    return T.sum(h);
  });
  f(T.random.normal(T.key(0), [64, 64]));
  const arena = Object.values(f.memory()!.arenaBytes).reduce((a, b) => a + b, 0);
  assert.ok(arena > 0 && arena <= 4 * 64 * 64 * 4, `arena ${arena} B for 40 intermediates of 16 KiB`);
});

test("elementwise chains fuse into one kernel", () => {
  const f = jit((x: Tensor) => T.mul(T.add(T.exp(x), 1), T.tanh(T.sub(x, 2))));
  f(T.ones([8]));
  assert.equal(f.kernelCount(), 1);
});

test("reading a traced value inside jit, or differentiating through jit, is a clear error", () => {
  assert.throws(() => jit((x: Tensor) => T.scalar(T.sum(x).item()))(T.ones([2])), /placeholder inside jit tracing/);
  const g = jit((x: Tensor) => T.sum(x));
  assert.throws(() => valueAndGrad((x: Tensor) => g(x))(T.ones([2])), /put grad inside the jit-compiled function/);
});

test("an output that later kernels also read keeps its value (its buffer is never reused within the plan)", () => {
  // t goes in place into the donated s; u's kernel reads t last and must not write over it.
  const f = jit(
    (s: Tensor) => {
      const t = T.add(s, 1);
      return { t, u: T.sqrt(T.mul(t, 2)) };
    },
    { donate: [0] },
  );
  const out = f(T.scalar(3));
  assert.equal(out.t.item(), 4);
  assert.equal(out.u.item(), Math.fround(Math.sqrt(8)));
});

test("each parameter's update runs once its own gradient is known: the gradients never all live at once", () => {
  const D = 128;
  const names = Array.from({ length: 8 }, (_, i) => `w${i}`);
  const params = new Map(names.map((n, i) => [n, T.random.normal(T.key(i), [D, D], 0, 0.05)]));
  const loss = (p: Map<string, Tensor>, x: Tensor) => {
    let h = x;
    for (const n of names) h = T.tanh(T.matmul(h, p.get(n)!));
    return T.mean(T.square(h));
  };
  const step = jit(
    (p: Map<string, Tensor>, o: ReturnType<typeof initAdamW>, x: Tensor) => {
      const [l, g] = valueAndGrad(loss)(p, x);
      const guard = new Map([...g].map(([n, gi]) => [n, T.less(T.abs(T.add(l, T.sum(T.square(gi)))), Infinity)]));
      const cfg = { betas: [0.9, 0.95] as [number, number], eps: 1e-8, weightDecay: 0 };
      const u = adamwStep(p, g, o, cfg, { lr: 1e-3, decay: () => false, applyIf: guard });
      return { p: u.params, o: u.state, l };
    },
    { donate: [0, 1] },
  );
  step(params, initAdamW(params), T.random.normal(T.key(9), [4, D]));
  const gradientBytes = names.length * D * D * 4;
  const arena = Object.values(step.memory()!.arenaBytes).reduce((a, b) => a + b, 0);
  assert.ok(arena < gradientBytes / 2, `arena ${arena} B, the gradients together ${gradientBytes} B`);
});

test("lower() plans without running: the memory a call needs is known before it runs, and nothing is donated", () => {
  const f = jit((x: Tensor) => T.sum(T.exp(T.matmul(x, T.transpose(x)))), { donate: [0] });
  const x = T.ones([32, 16]);
  const memory = f.lower(x);
  assert.equal(f.traces, 1);
  assert.ok(memory.arenaBytes.cpu ?? memory.arenaBytes.reference > 0);
  assert.deepEqual([...x.toArray()].slice(0, 2), [1, 1], "the argument is still usable: lower() runs nothing");
  f(x);
  assert.equal(f.traces, 1, "the call reuses the lowered plan");
});
