/**
 * Polls `condition` every `intervalMs` until it holds, and rejects naming `what` after
 * `timeoutMs`: for changes that arrive asynchronously (pub/sub, reconnection), with no fixed sleep.
 */
export async function until(condition: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
