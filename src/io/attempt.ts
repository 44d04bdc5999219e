// Either at the boundaries (fp-ts): a loader's expected failures as values, beside the throwing call.
// `tryLoadPreTraining(dir)` returns Left(error) for a bad file; only a bug (any other exception) throws.

import { type Either, left, right } from "fp-ts/lib/Either.js";

/** An error class, for `instanceof` (whatever its constructor takes). */
export type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** Runs a throwing loader: its value as Right, an error of one of the `expected` classes as Left; anything else is rethrown. */
export function attempt<A, E extends Error>(f: () => A, expected: readonly ErrorClass<E>[]): Either<E, A> {
  try {
    return right(f());
  } catch (e) {
    if (expected.some((type) => e instanceof type)) return left(e as E);
    throw e;
  }
}
