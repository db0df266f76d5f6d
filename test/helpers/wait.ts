// Wait for a condition that another process or socket makes true, checking on each turn of the event loop —
// a bounded wait on a condition, never a guess at how long something takes.
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
