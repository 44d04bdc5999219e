// The page side of the browser harness (test/helpers/browser.ts): a page runs its checks and hands
// the outcome to the test through a global that the harness polls; a throw becomes `{ error }`.

/** Runs `check` and reports its result (or its error, with the stack) to the test driving the page. */
export function reportResult(check: () => Promise<Record<string, unknown>> | Record<string, unknown>): void {
  const report = (result: Record<string, unknown>) => {
    (globalThis as { __vitmaeResult?: unknown }).__vitmaeResult = result;
  };
  Promise.resolve()
    .then(check)
    .then(report, (error: unknown) => report({ error: String((error as Error)?.stack ?? error) }));
}
