// Reverse-mode autodiff: function transforms over pytrees, and a gradient checker.
export { vjp, grad, valueAndGrad, jvp, hvp, type GradOptions } from "./transforms.ts";
export { checkGrads, assertGradsClose, type GradCheckOptions, type GradCheckResult } from "./gradcheck.ts";
export { leaves, treeMap, unflatten, treeZip, type Tree } from "./pytree.ts";
export { stopGradient } from "../core/ops/stopGradient.ts";
