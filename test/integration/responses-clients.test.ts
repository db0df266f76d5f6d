// The real Responses clients against Alloy and the keyless `mock` provider, over loopback only: the OpenAI Agents
// SDK (its default Responses mode: a run, a streamed run, a tool loop) and the Codex CLI (`codex exec`: a plain
// answer with its default model, and a shell round trip where the model asks Codex to run a command). The mock
// calls a tool when its model id is `tool:NAME`, with the user's message as the arguments (src/providers/mock.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { z } from "zod";
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled, tool } from "@openai/agents";
import { ROOT, logsSettled, startGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = "gw-e2e-key";
let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway(`
[server]
api_keys = ["${KEY}"]
timeout_secs = 20
[providers.mock]
type = "mock"
[models."gpt-5.1-codex"]
targets = ["mock/tool:exec_command"]
[models."weather-agent"]
targets = ["mock/tool:get_weather"]
[models."gpt-*"]
targets = ["mock/echo"]
`);
  setTracingDisabled(true);
  setDefaultOpenAIClient(new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 10_000 }));
});

afterAll(() => gw.stop(false));

/** Access lines of /v1/responses, in order. */
async function responseLines(): Promise<Array<{ method: string; status: number; stream: boolean }>> {
  await logsSettled();
  return gw.logs.map((l) => JSON.parse(l)).filter((l) => l.route === "/v1/responses" && l.status !== undefined);
}

describe("OpenAI Agents SDK (Responses mode)", () => {
  test("a run answers with the mock's text", async () => {
    const agent = new Agent({ name: "Echo", instructions: "Be brief.", model: "gpt-4.1-mini" });
    const result = await run(agent, "hello agents");
    expect(result.finalOutput).toBe("You said: hello agents");
  });

  test("a streamed run streams the same text", async () => {
    const agent = new Agent({ name: "Echo", model: "gpt-4.1-mini" });
    const result = await run(agent, "stream this", { stream: true });
    let text = "";
    for await (const chunk of result.toTextStream()) text += chunk;
    await result.completed;
    expect(text).toBe("You said: stream this");
    expect(result.finalOutput).toBe("You said: stream this");
  });

  test("a tool loop: the model calls the function tool, the SDK runs it, the model answers with its output", async () => {
    const seen: string[] = [];
    const weather = tool({
      name: "get_weather",
      description: "Weather in a city",
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        seen.push(city);
        return `sunny in ${city}`;
      },
    });
    const agent = new Agent({ name: "Weather", model: "weather-agent", tools: [weather] });
    const result = await run(agent, '{"city":"Paris"}');
    expect(seen).toEqual(["Paris"]);
    expect(result.finalOutput).toBe("Tool result: sunny in Paris");
  });

  test("a run chained with previousResponseId reads Alloy's store", async () => {
    const agent = new Agent({ name: "Echo", model: "gpt-4.1-mini" });
    const first = await run(agent, "turn one");
    const second = await run(agent, "turn two", { previousResponseId: first.lastResponseId });
    expect(second.finalOutput).toBe("You said: turn two");
  });
});

describe("Codex CLI", () => {
  const codex = async (args: string[], prompt: string) => {
    const home = mkdtempSync(join(tmpdir(), "alloy-codex-"));
    try {
      const proc = Bun.spawn(
        [join(ROOT, "node_modules/.bin/codex"), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "-c", `openai_base_url="${gw.url}/v1"`, ...args, prompt],
        {
          cwd: home,
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CODEX_HOME: home, CODEX_API_KEY: KEY, RUST_LOG: "error" },
        },
      );
      const timer = setTimeout(() => proc.kill(), 40_000);
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      clearTimeout(timer);
      return { out, err, code };
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  };

  test("a plain answer with its default model (WebSocket probe refused with 426, then one streamed POST)", async () => {
    const before = (await responseLines()).length;
    const r = await codex([], "say hi");
    expect(r.code, r.err.slice(-2000)).toBe(0);
    expect(r.out).toContain("You said: say hi");
    const lines = (await responseLines()).slice(before);
    expect(lines.some((l) => l.method === "GET" && l.status === 426)).toBe(true);
    expect(lines.filter((l) => l.method === "POST").map((l) => l.status)).toEqual([200]);
  }, 45_000);

  test("a shell round trip: the model calls exec_command, Codex runs it, the model answers with its output", async () => {
    const r = await codex(["-m", "gpt-5.1-codex"], JSON.stringify({ cmd: "echo alloy-e2e-$((40+2))" }));
    expect(r.code, r.err.slice(-2000)).toBe(0);
    // The command really ran (the shell expanded it) and its output came back through a second request.
    expect(r.out).toContain("Tool result:");
    expect(r.out).toContain("alloy-e2e-42");
  }, 45_000);
});
