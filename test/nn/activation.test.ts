// HF's ACT2FN by config name: hand values for the GELU variants, and a named error for unknown names.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { activation, ACTIVATIONS } from "../../src/nn/activation.ts";
import { SUPPORTED_ACTIVATIONS } from "../../src/mae/config.ts";
import { assertClose } from "../helpers/tensors.ts";

const at = (name: string, xs: number[]) => activation(name)(T.fromArray(xs, [xs.length])).toArray();

test("gelu is the exact erf form; gelu_new is the tanh approximation (hand values)", () => {
  // x·Φ(x): Φ(1) = 0.8413447460685429, Φ(-1) = 0.15865525393145707.
  assertClose(at("gelu", [1, -1, 0]), [0.8413447460685429, -0.15865525393145707, 0], 1e-6);
  const tanhGelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  assertClose(at("gelu_new", [1, -1, 2]), [tanhGelu(1), tanhGelu(-1), tanhGelu(2)], 1e-6);
  assert.notEqual(at("gelu", [1])[0], at("gelu_new", [1])[0], "the two GELUs differ");
  assertClose(at("relu", [-2, 3]), [0, 3]);
});

test("every activation a config accepts exists here", () => {
  for (const name of SUPPORTED_ACTIVATIONS)
    assert.ok(name in ACTIVATIONS, `config accepts "${name}" but nn has no such activation`);
});

test("an unknown activation is an error naming it and the supported ones", () => {
  assert.throws(
    () => activation("gelu_9000"),
    (e: Error) => e.message.includes('"gelu_9000"') && e.message.includes("gelu_new"),
  );
});
