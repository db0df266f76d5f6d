// Claude Code itself (the `claude` CLI from the @anthropic-ai/claude-code devDependency) against Alloy over loopback:
// `claude -p` with ANTHROPIC_BASE_URL pointing at the gateway and a gateway key, routed by a `claude-*` alias to the
// keyless mock provider. One plain answer, and a tool round trip: the mock asks for Claude Code's own Read tool (its
// `[mock:tool …]` directive), Claude Code reads the file and sends the result back, the mock answers with it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logsSettled, ROOT, startGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = "gw-claude-code-key";
const CLAUDE = join(ROOT, "node_modules", ".bin", "claude");
/** Claude Code starts in ~1-3 s; a run that takes longer than this is killed and the test fails. */
const RUN_MS = 40_000;

let gw: TestGateway;
let home: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "alloy-claude-code-"));
  gw = await startGateway(`
[server]
api_keys = ["${KEY}"]
[governance]
max_retries = 0
[providers.mock]
type = "mock"
[models."claude-*"]
targets = ["mock/echo"]
`);
});
afterAll(async () => {
  await gw.stop(false);
  rmSync(home, { recursive: true, force: true });
});

async function claude(prompt: string, model: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([CLAUDE, "-p", prompt, "--model", model], {
    cwd: home,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: home,
      ANTHROPIC_BASE_URL: gw.url.replace("localhost", "127.0.0.1"),
      ANTHROPIC_API_KEY: KEY,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_AUTOUPDATER: "1",
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill(), RUN_MS);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const messageLines = async () => {
  await logsSettled();
  return gw.logs.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg === "request" && l.route === "/v1/messages");
};

describe("Claude Code through Alloy", () => {
  test(
    "claude -p prints the answer; one streamed /v1/messages request, served by the mock",
    async () => {
      const before = (await messageLines()).length;
      const r = await claude("say pineapple-42", "claude-sonnet-4-5");
      expect(r.code).toBe(0);
      // The mock echoes the user turn: Claude Code's system reminders, then the prompt as the last text.
      expect(r.stdout.startsWith("You said: ")).toBe(true);
      expect(r.stdout.trim().endsWith("say pineapple-42")).toBe(true);
      const lines = (await messageLines()).slice(before);
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatchObject({ status: 200, stream: true, provider: "mock", model: "claude-sonnet-4-5", finishReason: "stop" });
    },
    RUN_MS + 5_000,
  );

  test(
    "a tool round trip: the model asks for Read, Claude Code runs it and sends the result back, and prints the answer",
    async () => {
      const file = join(home, "note.txt");
      writeFileSync(file, "the secret word is tangerine\n");
      const before = (await messageLines()).length;
      const r = await claude(`Read the note. [mock:tool Read {"file_path":${JSON.stringify(file)}}]`, "claude-sonnet-4-5");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Tool result:");
      expect(r.stdout).toContain("the secret word is tangerine");
      const lines = (await messageLines()).slice(before);
      // The first request got the tool call, the second carried the Read result; both on the translated mock path.
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.map((l) => l.finishReason)).toContain("tool_calls");
      for (const l of lines) expect(l).toMatchObject({ status: 200, stream: true, provider: "mock" });
    },
    RUN_MS + 5_000,
  );
});
