// The cpu backend's vectorised math against float64 truth over a sweep of float32 inputs (see
// cpuMathAccuracy.ts): the worst errors must stay within the bounds src/core/wasm/simdMath.ts states.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { measureAll } from "./cpuMathAccuracy.ts";

/** Stated bounds, in float32 ulps of the true value. */
const BOUNDS: Record<string, number> = { exp: 1, log: 1, tanh: 1, sigmoid: 2, erf: 2, gelu: 1, geluDerivative: 1 };

describe("cpu vectorised math accuracy", () => {
  it("stays within the stated ulps of float64 truth on every measured range", () => {
    for (const a of measureAll()) {
      assert.ok(
        a.maxUlps <= BOUNDS[a.op],
        `${a.op} on ${a.range}: ${a.maxUlps} ulps at x = ${a.at} (bound ${BOUNDS[a.op]})`,
      );
    }
  });
});
