// Helper processes must not outlive the harness, even when it is killed with SIGKILL and cannot clean up.

/** Exit once the parent process is gone (we get re-parented, so ppid changes). */
export function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 500).unref();
}
