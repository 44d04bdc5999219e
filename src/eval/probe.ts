// Probing frozen features (MAE main_linprobe.py, DINO eval_knn.py): a linear classifier on
// BatchNorm-standardised features, trained with our autodiff + AdamW, and a weighted k-NN on cosine similarity.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { valueAndGrad } from "../autodiff/index.ts";
import { adamwStep, initAdamW, type AdamWConfig, type AdamWState } from "../nn/adamw.ts";
import { jit } from "../jit/index.ts";

/**
 * MAE's linprobe head starts with BatchNorm1d(affine=False, eps=1e-6): here with the train split's
 * own statistics, (x − mean) / sqrt(var + 1e-6) (biased variance, as BatchNorm normalises), applied
 * to the train split and to every other split given.
 */
export function standardize(train: Tensor, ...others: Tensor[]): Tensor[] {
  checkMatrix(train, "standardize: train features");
  const mean = T.mean(train, 0, { keepdims: true });
  const scale = T.rsqrt(T.add(T.variance(train, 0, { keepdims: true }), 1e-6));
  return [train, ...others].map((x, i) => {
    if (i > 0) checkMatrix(x, `standardize: features ${i}`, train.shape[1]);
    return T.mul(T.sub(x, mean), scale);
  });
}

export interface LinearProbeOptions {
  numClasses: number;
  /** Passes over the train split (default 30). */
  epochs?: number;
  /** Examples per step (default 64). */
  batchSize?: number;
  /** AdamW learning rate (default 1e-2), weight decay on the weight only (default 0, as MAE's linprobe). */
  lr?: number;
  weightDecay?: number;
  /** Drives the head's init (N(0, 0.01), as MAE's trunc_normal_) and each epoch's shuffle: a key, or T.key(seed). */
  seed?: number;
  key?: Key;
}

export interface LinearHead {
  weight: Tensor; // [D, K]
  bias: Tensor; //   [K]
}

/** Mean softmax cross-entropy of the head on x [B, D] against `onehot` [B, K]. */
function crossEntropy(head: LinearHead, x: Tensor, onehot: Tensor): Tensor {
  const logits = T.add(T.matmul(x, head.weight), head.bias);
  return T.neg(T.mean(T.sum(T.mul(onehot, T.logSoftmax(logits, -1)), -1)));
}

/**
 * Trains a linear softmax classifier on x [N, D], y [N]; returns the head and each epoch's mean loss.
 * Reads with await (a GPU backend reads only asynchronously): the epoch's order, then its losses at once.
 */
export async function trainLinearHead(
  x: Tensor,
  y: ArrayLike<number>,
  opts: LinearProbeOptions,
): Promise<{ head: LinearHead; losses: number[] }> {
  const [n, d] = checkMatrix(x, "linear probe: train features");
  const k = opts.numClasses;
  checkLabels(y, n, k, "linear probe: train labels");
  const { epochs = 30, batchSize = 64, lr = 1e-2, weightDecay = 0, seed = 0 } = opts;
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new RangeError(`linear probe: epochs must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`linear probe: batchSize must be a positive integer, got ${batchSize}`);
  if (!(lr > 0)) throw new RangeError(`linear probe: lr must be positive, got ${lr}`);
  const [initKey, shuffleKey] = T.random.split(opts.key ?? T.key(seed), 2);
  let params = new Map<string, Tensor>([
    ["weight", T.random.normal(initKey, [d, k], 0, 0.01)],
    ["bias", T.zeros([k])],
  ]);
  let state = initAdamW(params);
  const adamw: AdamWConfig = { betas: [0.9, 0.999], eps: 1e-8, weightDecay };
  const lossAndGrad = valueAndGrad(crossEntropy);
  // One AdamW step on a batch, compiled once per batch size; params and state are donated.
  const step = jit(
    (p: Map<string, Tensor>, s: AdamWState, xb: Tensor, yb: Tensor) => {
      const [loss, grads] = lossAndGrad({ weight: p.get("weight")!, bias: p.get("bias")! }, xb, yb) as [
        Tensor,
        LinearHead,
        unknown,
      ];
      const g = new Map([
        ["weight", grads.weight],
        ["bias", grads.bias],
      ]);
      const next = adamwStep(p, g, s, adamw, { lr, decay: (name) => name === "weight" });
      return { params: next.params, state: next.state, loss };
    },
    { donate: [0, 1] },
  );
  const losses: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = await T.random.permutation(T.random.foldIn(shuffleKey, epoch), n).data();
    const batchLosses: Tensor[] = [];
    const batchSizes: number[] = [];
    for (let start = 0; start < n; start += batchSize) {
      const idx = Array.from(order.subarray(start, Math.min(n, start + batchSize)));
      const targets = oneHot(
        idx.map((i) => y[i]),
        k,
      );
      const out = step(params, state, T.take(x, idx, 0), targets);
      params = out.params;
      state = out.state;
      batchLosses.push(out.loss);
      batchSizes.push(idx.length);
    }
    const values = await T.stack(batchLosses).data();
    let total = 0;
    values.forEach((loss, b) => (total += loss * batchSizes[b]));
    losses.push(total / n);
  }
  return { head: { weight: params.get("weight")!, bias: params.get("bias")! }, losses };
}

/** The head's class for each row of x [N, D] (argmax of the logits; ties to the lower class). */
export async function predictLinear(head: LinearHead, x: Tensor): Promise<Int32Array> {
  const [, d] = checkMatrix(x, "linear probe: features");
  if (head.weight.shape[0] !== d)
    throw new RangeError(`linear probe: features have ${d} dims, the head takes ${head.weight.shape[0]}`);
  return Int32Array.from(await T.argmax(T.add(T.matmul(x, head.weight), head.bias), -1).data());
}

/** Linear-probe accuracy on the test split of a head trained on the train split (features as given: standardise first). */
export async function linearProbe(
  trainX: Tensor,
  trainY: ArrayLike<number>,
  testX: Tensor,
  testY: ArrayLike<number>,
  opts: LinearProbeOptions,
): Promise<number> {
  const { head } = await trainLinearHead(trainX, trainY, opts);
  checkLabels(
    testY,
    checkMatrix(testX, "linear probe: test features")[0],
    opts.numClasses,
    "linear probe: test labels",
  );
  return accuracy(await predictLinear(head, testX), testY);
}

export interface KnnOptions {
  numClasses: number;
  /** Neighbours (default 20, as DINO; fewer when the train split is smaller). */
  k?: number;
  /** "weighted" (default): DINO's vote, each neighbour adds exp(cos / temperature); "majority": one vote each. */
  vote?: "weighted" | "majority";
  temperature?: number; // default 0.07
  /** Test rows per similarity block, to bound memory (default 256). */
  blockSize?: number;
}

/** The k-NN class of each test row: cosine similarity to every train row, the k most similar vote (one read per block). */
export async function knnPredict(
  trainX: Tensor,
  trainY: ArrayLike<number>,
  testX: Tensor,
  opts: KnnOptions,
): Promise<Int32Array> {
  const [n, d] = checkMatrix(trainX, "k-NN: train features");
  const [m] = checkMatrix(testX, "k-NN: test features", d);
  const classes = opts.numClasses;
  checkLabels(trainY, n, classes, "k-NN: train labels");
  const { vote = "weighted", temperature = 0.07, blockSize = 256 } = opts;
  const k = Math.min(opts.k ?? 20, n);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k-NN: k must be a positive integer, got ${opts.k}`);
  const trainT = T.transpose(l2Normalize(trainX)); // [D, N]
  const test = l2Normalize(testX);
  const out = new Int32Array(m);
  for (let start = 0; start < m; start += blockSize) {
    const rows = Math.min(blockSize, m - start);
    const sims = await T.matmul(T.slice(test, [{ start, stop: start + rows }]), trainT).data(); // [rows, N]
    for (let r = 0; r < rows; r++) {
      const top = topK(sims.subarray(r * n, (r + 1) * n), k);
      const votes = new Float64Array(classes);
      const tieBreak = new Float64Array(classes);
      for (const j of top) {
        votes[trainY[j]] += vote === "weighted" ? Math.exp(sims[r * n + j] / temperature) : 1;
        tieBreak[trainY[j]] += sims[r * n + j];
      }
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (votes[c] > votes[best] || (votes[c] === votes[best] && tieBreak[c] > tieBreak[best])) best = c;
      }
      out[start + r] = best;
    }
  }
  return out;
}

/** k-NN accuracy on the test split against the train split. */
export async function knn(
  trainX: Tensor,
  trainY: ArrayLike<number>,
  testX: Tensor,
  testY: ArrayLike<number>,
  opts: KnnOptions,
): Promise<number> {
  checkLabels(testY, testX.shape[0], opts.numClasses, "k-NN: test labels");
  return accuracy(await knnPredict(trainX, trainY, testX, opts), testY);
}

/** The fraction of predictions equal to the labels. */
export function accuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predicted.length !== labels.length)
    throw new RangeError(`accuracy: ${predicted.length} predictions for ${labels.length} labels`);
  if (labels.length === 0) throw new RangeError("accuracy: no examples");
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) right++;
  return right / labels.length;
}

/** Indices of the k largest values, most similar first (ties: the lower index). */
function topK(values: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let j = 0; j < values.length; j++) {
    if (best.length === k && values[j] <= values[best[k - 1]]) continue;
    let at = best.length === k ? k - 1 : best.length;
    if (best.length === k) best.pop();
    while (at > 0 && values[best[at - 1]] < values[j]) at--;
    best.splice(at, 0, j);
  }
  return best;
}

/** Rows scaled to unit length (a zero row stays zero). */
function l2Normalize(x: Tensor): Tensor {
  return T.div(x, T.maximum(T.sqrt(T.sum(T.mul(x, x), -1, { keepdims: true })), 1e-12));
}

function oneHot(labels: readonly number[], k: number): Tensor {
  const data = new Float32Array(labels.length * k);
  labels.forEach((c, i) => (data[i * k + c] = 1));
  return T.fromArray(data, [labels.length, k]);
}

function checkMatrix(x: Tensor, what: string, dims?: number): [number, number] {
  if (!(x instanceof T.Tensor) || x.shape.length !== 2)
    throw new RangeError(`${what} must be a [N, D] tensor, got ${x instanceof T.Tensor ? T.fmt(x.shape) : typeof x}`);
  const [n, d] = x.shape;
  if (n < 1) throw new RangeError(`${what} has no rows`);
  if (dims !== undefined && d !== dims) throw new RangeError(`${what} have ${d} dims, expected ${dims}`);
  return [n, d];
}

function checkLabels(y: ArrayLike<number>, n: number, k: number, what: string): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${what}: numClasses must be a positive integer, got ${k}`);
  if (y.length !== n) throw new RangeError(`${what}: ${y.length} labels for ${n} feature rows`);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= k)
      throw new RangeError(`${what}: label ${y[i]} at row ${i} is not a class in [0, ${k})`);
  }
}
