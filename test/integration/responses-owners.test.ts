// Stored responses belong to the key that stored them: another key cannot read, list, chain on or delete them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(`
[server.keys.app-a]
key = "key-owner-a"
[server.keys.app-b]
key = "key-owner-b"
[providers.mock]
type = "mock"
`);
});
afterAll(() => gw.stop(false));

const call = (key: string, method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

test("only the key that stored a response finds it", async () => {
  const created = await call("key-owner-a", "POST", "/v1/responses", { model: "mock/echo", input: "remember me" });
  expect(created.status).toBe(200);
  const { id } = (await created.json()) as { id: string };

  expect((await call("key-owner-b", "GET", `/v1/responses/${id}`)).status).toBe(404);
  expect((await call("key-owner-b", "GET", `/v1/responses/${id}/input_items`)).status).toBe(404);
  const chained = await call("key-owner-b", "POST", "/v1/responses", { model: "mock/echo", input: "and?", previous_response_id: id });
  expect(chained.status).toBe(400);
  expect(((await chained.json()) as { error: { param: string } }).error.param).toBe("previous_response_id");
  expect((await call("key-owner-b", "DELETE", `/v1/responses/${id}`)).status).toBe(404);

  // The owner still has it, whole: the other key's delete touched nothing.
  const mine = await call("key-owner-a", "GET", `/v1/responses/${id}`);
  expect(mine.status).toBe(200);
  expect(((await mine.json()) as { id: string }).id).toBe(id);
  const next = await call("key-owner-a", "POST", "/v1/responses", { model: "mock/echo", input: "and?", previous_response_id: id });
  expect(next.status).toBe(200);
  expect((await call("key-owner-a", "DELETE", `/v1/responses/${id}`)).status).toBe(200);
});
