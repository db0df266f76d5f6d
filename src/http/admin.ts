// The admin API (/admin/*, on when server.admin_key is set; the guard in auth.ts has checked the admin key): virtual
// keys (create, list, read, change, revoke) and spend. The secret of a new key is in its 201 answer and nowhere
// else: only its digest is stored. Admin writes go to the store at once and into the key cache before the answer,
// so they apply from the next request on.
import { Type as T, type Static, type TSchema } from "@sinclair/typebox";
import { AlloyError, asAlloyError } from "../errors.ts";
import { keyDigest, newSecret } from "../keys/secret.ts";
import type { VirtualKeys } from "../keys/virtual.ts";
import { simpleRecord, type RequestObserver } from "../observability/access.ts";
import { ROUTES } from "../routes.ts";
import type { KeyPatch, KeyRecord, SpendGroupBy, Store } from "../store/store.ts";
import { LazyCheck } from "../util/lazy-check.ts";
import { readJsonBody } from "./body.ts";
import { errorResponse } from "./errors.ts";
import { json } from "./json.ts";

const Nullable = <S extends TSchema>(s: S) => T.Union([s, T.Null()]);
const Limit = Nullable(T.Integer({ minimum: 1, maximum: 1e9 }));
const Fields = {
  label: T.String({ minLength: 1, maxLength: 200 }),
  models: T.Optional(Nullable(T.Array(T.String({ minLength: 1, maxLength: 256 }), { maxItems: 1000 }))),
  rpm: T.Optional(Nullable(T.Integer({ minimum: 1, maximum: 100_000 }))),
  tpm: T.Optional(Limit),
  max_concurrent: T.Optional(Limit),
  budget_usd: T.Optional(Nullable(T.Number({ minimum: 0, maximum: 1e9 }))),
  budget_period: T.Optional(Nullable(T.Union([T.Literal("daily"), T.Literal("weekly"), T.Literal("monthly"), T.Literal("total")]))),
  /** ISO 8601, or Unix seconds. */
  expires_at: T.Optional(Nullable(T.Union([T.String({ minLength: 1, maxLength: 64 }), T.Number({ minimum: 0 })]))),
  metadata: T.Optional(Nullable(T.Record(T.String(), T.Unknown()))),
};
export const KeyBody = T.Object(Fields, { additionalProperties: false });
export const KeyPatchBody = T.Partial(T.Object({ ...Fields }), { additionalProperties: false });
type KeyBody = Static<typeof KeyBody>;
const checkCreate = new LazyCheck(KeyBody);
const checkPatch = new LazyCheck(KeyPatchBody);

const GROUPS: readonly SpendGroupBy[] = ["key", "model", "provider", "day"];
const MAX_METADATA_BYTES = 16 * 1024;

const bad = (message: string, param: string | null = null) => new AlloyError("bad_request", message, { param });

/** The first problem with a body, naming the field. */
function validate<S extends TSchema>(check: LazyCheck<S>, body: unknown): Static<S> {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw bad("The request body must be a JSON object");
  if (check.Check(body)) return body as Static<S>;
  const first = check.Errors(body).First()!;
  const field = first.path.split("/")[1] || "";
  if (first.message.startsWith("Unexpected property") || (field && !(field in Fields))) throw bad(`Unknown field '${field}'`, field);
  if (!field) throw bad(`Missing required field '${Object.keys(Fields).find((k) => !(k in body)) ?? "label"}'`, "label");
  if (!(field in body)) throw bad(`Missing required field '${field}'`, field);
  throw bad(`Invalid '${first.path.slice(1).replaceAll("/", ".")}': ${first.message.replace(/^Expected/, "expected")}`, field);
}

/** expires_at as epoch ms: ISO 8601 with a date, or Unix seconds. */
function expiresAt(v: string | number | null | undefined): number | null | undefined {
  if (v === undefined || v === null) return v;
  const ms = typeof v === "number" ? v * 1000 : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms) || ms > 8.64e15) throw bad("Invalid 'expires_at': expected an ISO 8601 time or Unix seconds", "expires_at");
  return Math.round(ms);
}

function patchOf(b: Partial<KeyBody>): KeyPatch {
  if (b.metadata && JSON.stringify(b.metadata).length > MAX_METADATA_BYTES) throw bad(`Invalid 'metadata': at most ${MAX_METADATA_BYTES} bytes of JSON`, "metadata");
  const p: KeyPatch = {};
  if (b.label !== undefined) p.label = b.label;
  if (b.models !== undefined) p.models = b.models;
  if (b.rpm !== undefined) p.rpm = b.rpm;
  if (b.tpm !== undefined) p.tpm = b.tpm;
  if (b.max_concurrent !== undefined) p.maxConcurrent = b.max_concurrent;
  if (b.budget_usd !== undefined) p.budgetUsd = b.budget_usd;
  if (b.budget_period !== undefined) p.budgetPeriod = b.budget_period;
  const exp = expiresAt(b.expires_at);
  if (exp !== undefined) p.expiresAt = exp;
  if (b.metadata !== undefined) p.metadata = b.metadata;
  return p;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A UTC day (YYYY-MM-DD) from a from/to parameter: a date or an ISO 8601 time. */
function dayParam(name: string, v: string | null): string | undefined {
  if (v === null || v === "") return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw bad(`Invalid '${name}': expected an ISO 8601 date (YYYY-MM-DD) or time`, name);
  return new Date(ms).toISOString().slice(0, 10);
}

export interface AdminDeps {
  store: Store;
  keys: VirtualKeys;
  observer: RequestObserver;
  maxBodySize: number;
  readTimeoutMs: number;
  now?: () => number;
  /** Tell the other replicas a key changed (shared stores), so they need not wait for their poll. */
  announce?: (id: string) => void;
}

export function adminRoutes({ store, keys, observer, maxBodySize, readTimeoutMs, now = Date.now, announce }: AdminDeps) {
  /** A key as the admin API shows it: settings, the current period's spend and usage; never the secret. */
  async function view(r: KeyRecord) {
    const t = await keys.usage(r.id, r.budgetPeriod ?? "total", now());
    return {
      id: r.id,
      label: r.label,
      models: r.models,
      rpm: r.rpm,
      tpm: r.tpm,
      max_concurrent: r.maxConcurrent,
      budget_usd: r.budgetUsd,
      budget_period: r.budgetPeriod,
      expires_at: iso(r.expiresAt),
      metadata: r.metadata,
      created_at: iso(r.createdAt),
      spend_usd: t.spendUsd,
      usage: { requests: t.requests, input_tokens: t.inputTokens, output_tokens: t.outputTokens },
    };
  }

  const notFound = (id: string) => new AlloyError("not_found", `No key with id '${id.slice(0, 100)}'`, { code: "key_not_found" });
  const body = (request: Request) => readJsonBody(request, maxBodySize, { timeoutMs: readTimeoutMs });

  /** Every admin answer, errors included, leaves an access record. */
  const handled =
    <A extends unknown[]>(fn: (requestId: string, ...a: A) => Promise<Response>) =>
    async (requestId: string, method: string, ...a: A): Promise<Response> => {
      const start = performance.now();
      let res: Response;
      let err: AlloyError | undefined;
      try {
        res = await fn(requestId, ...a);
      } catch (e) {
        err = asAlloyError(e);
        res = errorResponse(err, requestId);
      }
      const rec = simpleRecord(requestId, method, ROUTES.admin, res.status, performance.now() - start);
      if (err) Object.assign(rec, { error: err.kind, errorMessage: err.message });
      observer.end(rec);
      return res;
    };

  return {
    create: handled(async (requestId, request: Request) => {
      const b = validate(checkCreate, await body(request));
      const secret = newSecret();
      const rec = await store.keys.create({ digest: keyDigest(secret), label: b.label, ...patchOf(b) });
      keys.added(rec);
      return json({ ...(await view(rec)), key: secret }, requestId, 201);
    }),
    list: handled(async (requestId) => {
      const data = [];
      for (const r of await store.keys.list()) data.push(await view(r));
      return json({ object: "list", data }, requestId);
    }),
    get: handled(async (requestId, id: string) => {
      const r = await store.keys.get(id);
      if (!r) throw notFound(id);
      return json(await view(r), requestId);
    }),
    update: handled(async (requestId, id: string, request: Request) => {
      const b = validate(checkPatch, await body(request));
      const patch = patchOf(b);
      const r = Object.keys(patch).length ? await store.keys.update(id, patch) : await store.keys.get(id);
      if (!r) throw notFound(id);
      await keys.put(r);
      announce?.(r.id);
      return json(await view(r), requestId);
    }),
    remove: handled(async (requestId, id: string) => {
      if (!(await store.keys.revoke(id))) throw notFound(id);
      keys.removed(id);
      announce?.(id);
      return new Response(null, { status: 204, headers: { "x-request-id": requestId } });
    }),
    spend: handled(async (requestId, request: Request) => {
      const q = new URL(request.url, "http://x").searchParams;
      const groupBy = (q.get("group_by") ?? "key") as SpendGroupBy;
      if (!GROUPS.includes(groupBy)) throw bad(`Invalid 'group_by': expected one of ${GROUPS.join(", ")}`, "group_by");
      const from = dayParam("from", q.get("from"));
      const to = dayParam("to", q.get("to"));
      const rows = await store.spend.query({ groupBy, from, to });
      const data = rows.map((r) => ({ group: r.group, spend_usd: r.spendUsd, requests: r.requests, input_tokens: r.inputTokens, output_tokens: r.outputTokens }));
      return json({ object: "list", data }, requestId);
    }),
  };
}
