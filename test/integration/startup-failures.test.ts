// Startup failures are one line and exit 2: a port already in use (by another Alloy or anything else) and a host that
// does not resolve. A second Alloy must never share a port silently.
import { afterAll, expect, test } from "bun:test";
import { BINARY, writeConfig } from "../helpers/gateway.ts";

const held = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("someone else") });
afterAll(() => held.stop(true));

async function run(args: string[]) {
  const proc = Bun.spawn([BINARY, ...args], { stdout: "pipe", stderr: "pipe", env: {} });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  return { code, err };
}

test("a port held by another program is one line naming the port, exit 2", async () => {
  const file = writeConfig(`[server]\nhost = "127.0.0.1"\n`);
  const { code, err } = await run(["--port", String(held.port), "--config", file]);
  expect(code).toBe(2);
  expect(err.trim().split("\n")).toHaveLength(1);
  expect(err).toContain(`port ${held.port} is already in use`);
  // The other program still has its port to itself.
  expect(await (await fetch(`http://127.0.0.1:${held.port}/`)).text()).toBe("someone else");
});

test("an unresolvable host is one line, exit 2, no stack trace", async () => {
  const file = writeConfig(`[server]\nhost = "alloy-no-such-host.invalid"\n`);
  const { code, err } = await run(["--port", "0", "--config", file]);
  expect(code).toBe(2);
  expect(err.trim().split("\n")).toHaveLength(1);
  expect(err).toContain('cannot listen on host "alloy-no-such-host.invalid"');
});
