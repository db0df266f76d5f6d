// Stored Responses: put() is a synchronous enqueue on the request path; batches go to the database off it. Until a
// record is written it is served from the queue, so the replica that answered can chain on it at once.
import type { SQL } from "bun";
import type { Db } from "./db.ts";
import type { Item, ItemPage, ResponseRecord, StoredResponse } from "./schema.ts";

/** Responses per transaction; reaching it while queued also flushes at once. */
export const RESPONSE_BATCH = 100;
/** Item rows per INSERT: 4 parameters each stays far below both engines' parameter limits. */
const ITEM_ROWS_PER_INSERT = 1000;
/** Turns followed back through previous_response_id; a longer chain is cut at its oldest end. */
const MAX_CHAIN = 10_000;

interface Pending {
  row: StoredResponse;
  input: Item[];
}

export interface ResponsesOptions {
  now: () => number;
  retentionMs: number;
  /** Queued records beyond this drop the oldest (see put). */
  maxPending: number;
  /** Ask for a flush: `full` when a batch is ready. */
  schedule: (full: boolean) => void;
}

export interface InputItemsQuery {
  order?: "asc" | "desc";
  /** An item id: list the items after it in the chosen order. */
  after?: string;
  limit?: number;
}

/** Items get ids so that `after` can point at them; one the client gave is kept. */
function withIds(responseId: string, items: Item[]): Item[] {
  return items.map((it, i) => (typeof it.id === "string" && it.id ? it : { ...it, id: `itm_${responseId}_${i}` }));
}

function outputOf(r: StoredResponse): Item[] {
  return Array.isArray(r.response.output) ? r.response.output : [];
}

/** The same page in memory as the SQL path gives (the queued records are not in the database yet). */
function page(items: Item[], q: Required<Omit<InputItemsQuery, "after">> & { after?: string }): ItemPage {
  let list = q.order === "asc" ? items : [...items].reverse();
  if (q.after !== undefined) {
    const i = list.findIndex((it) => it.id === q.after);
    list = i < 0 ? [] : list.slice(i + 1);
  }
  const data = list.slice(0, q.limit);
  return pageOf(data, list.length > q.limit);
}

function pageOf(data: Item[], hasMore: boolean): ItemPage {
  return { data, firstId: (data[0]?.id as string) ?? null, lastId: (data.at(-1)?.id as string) ?? null, hasMore };
}

function rowOf(r: Record<string, unknown>): StoredResponse {
  return {
    id: String(r.id),
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    model: String(r.model),
    provider: String(r.provider),
    previousResponseId: r.previous_response_id == null ? null : String(r.previous_response_id),
    owner: String(r.owner ?? ""),
    response: JSON.parse(String(r.response)),
  };
}

export class Responses {
  /** Insertion-ordered: the first entries are the oldest, written first. Entries leave once their batch committed. */
  private readonly pending = new Map<string, Pending>();
  dropped = 0;

  constructor(
    private readonly db: Db,
    private readonly o: ResponsesOptions,
  ) {}

  get queued(): number {
    return this.pending.size;
  }

  /**
   * Queue one turn for writing; never throws, never waits. The caller hands the objects over: do not change them
   * afterwards. Past `maxPending` queued records (the database has been down for a while) the oldest is dropped and
   * counted: live conversations chain on their latest turns, which stay readable here while the database is away.
   */
  put(rec: ResponseRecord): void {
    const createdAt = rec.createdAt ?? this.o.now();
    const row: StoredResponse = {
      id: rec.id,
      createdAt,
      expiresAt: rec.expiresAt ?? createdAt + this.o.retentionMs,
      model: rec.model,
      provider: rec.provider,
      previousResponseId: rec.previousResponseId ?? null,
      owner: rec.owner ?? "",
      response: rec.response,
    };
    this.pending.delete(rec.id); // a second put of one id replaces the first and moves to the back
    this.pending.set(rec.id, { row, input: withIds(rec.id, rec.input) });
    while (this.pending.size > this.o.maxPending) {
      this.pending.delete(this.pending.keys().next().value!);
      this.dropped++;
    }
    this.o.schedule(this.pending.size >= RESPONSE_BATCH);
  }

  private live(id: string, owner: string): Pending | undefined {
    const p = this.pending.get(id);
    return p && p.row.expiresAt > this.o.now() && p.row.owner === owner ? p : undefined;
  }

  /**
   * The stored response, or null when unknown, deleted, expired, or stored by another owner (to whom it does not
   * exist: `owner` is the caller's stable key name, "" without keys).
   */
  async get(id: string, owner = ""): Promise<StoredResponse | null> {
    const p = this.pending.get(id);
    if (p) return p.row.expiresAt > this.o.now() && p.row.owner === owner ? p.row : null;
    const sql = this.db.sql;
    const [r] = await sql`SELECT id, created_at, expires_at, model, provider, previous_response_id, owner, response
      FROM responses WHERE id = ${id} AND owner = ${owner} AND expires_at > ${this.o.now()}`;
    return r ? rowOf(r) : null;
  }

  /** Whether it existed (and had not expired); afterwards it is gone for get, inputItems and chain. */
  async delete(id: string, owner = ""): Promise<boolean> {
    const queued = this.live(id, owner) !== undefined;
    const other = this.pending.get(id);
    if (other && other.row.owner !== owner) return false; // someone else's: not there, and left alone
    this.pending.delete(id);
    const now = this.o.now();
    // Locked: a flush that holds this record right now finishes first, so it cannot bring the record back.
    const stored = await this.db.locked(() =>
      this.db.tx(async (tx) => {
        const [r] = await tx`SELECT expires_at FROM responses WHERE id = ${id} AND owner = ${owner}`;
        if (!r) {
          this.db.statements++;
          return false;
        }
        await tx`DELETE FROM response_items WHERE response_id = ${id}`;
        await tx`DELETE FROM responses WHERE id = ${id}`;
        this.db.statements += 3;
        return r !== undefined && Number(r.expires_at) > now;
      }),
    );
    return queued || stored;
  }

  /** A page of this turn's input items, newest first unless order is "asc"; null when the response is not there. */
  async inputItems(id: string, q: InputItemsQuery = {}, owner = ""): Promise<ItemPage | null> {
    const order = q.order ?? "desc";
    const limit = Math.max(1, Math.min(Math.trunc(q.limit ?? 20), 100));
    const p = this.pending.get(id);
    if (p) return p.row.expiresAt > this.o.now() && p.row.owner === owner ? page(p.input, { order, limit, after: q.after }) : null;
    const sql = this.db.sql;
    const [exists] = await sql`SELECT 1 AS one FROM responses WHERE id = ${id} AND owner = ${owner} AND expires_at > ${this.o.now()}`;
    if (!exists) return null;
    let from = sql``;
    if (q.after !== undefined) {
      const [a] = await sql`SELECT position FROM response_items WHERE response_id = ${id} AND item_id = ${q.after}`;
      if (!a) return pageOf([], false);
      from = order === "asc" ? sql`AND position > ${Number(a.position)}` : sql`AND position < ${Number(a.position)}`;
    }
    const rows = await sql`SELECT item FROM response_items WHERE response_id = ${id} ${from}
      ORDER BY position ${order === "asc" ? sql`ASC` : sql`DESC`} LIMIT ${limit + 1}`;
    const items = rows.slice(0, limit).map((r: { item: string }) => JSON.parse(r.item) as Item);
    return pageOf(items, rows.length > limit);
  }

  /**
   * The conversation up to and including this turn, oldest first: each turn's input items, then its output items.
   * Null when the response itself is not there; a deleted or expired earlier turn ends the chain there.
   */
  async chain(id: string, owner = ""): Promise<Item[] | null> {
    const turns: Item[][] = [];
    let cur: string | null = id;
    // Newest turns may still be queued: walk them here, then the rest in one recursive query. Every turn is the
    // owner's: a chain never crosses into another key's conversation.
    for (let p: Pending | undefined; cur !== null && (p = this.live(cur, owner)) && turns.length < MAX_CHAIN; cur = p.row.previousResponseId)
      turns.push([...p.input, ...outputOf(p.row)]);
    if (cur !== null && !this.pending.has(cur) && turns.length < MAX_CHAIN) turns.push(...(await this.storedChain(cur, MAX_CHAIN - turns.length, owner)));
    if (turns.length === 0) return null;
    return turns.reverse().flat();
  }

  /** Turns from the database, newest first: one query for the responses, one for their input items. */
  private async storedChain(id: string, max: number, owner: string): Promise<Item[][]> {
    const sql = this.db.sql;
    const now = this.o.now();
    const rows = await sql`WITH RECURSIVE c (id, prev, depth) AS (
        SELECT id, previous_response_id, 0 FROM responses WHERE id = ${id} AND owner = ${owner} AND expires_at > ${now}
        UNION ALL
        SELECT r.id, r.previous_response_id, c.depth + 1 FROM responses r JOIN c ON r.id = c.prev
        WHERE r.owner = ${owner} AND r.expires_at > ${now} AND c.depth < ${max - 1})
      SELECT c.id, c.depth, r.response FROM c JOIN responses r ON r.id = c.id ORDER BY c.depth`;
    if (rows.length === 0) return [];
    const ids = rows.map((r: { id: string }) => r.id);
    const items = await sql`SELECT response_id, item FROM response_items WHERE response_id IN ${sql(ids)}
      ORDER BY response_id, position`;
    const inputs = new Map<string, Item[]>();
    for (const it of items as { response_id: string; item: string }[]) {
      let list = inputs.get(it.response_id);
      if (!list) inputs.set(it.response_id, (list = []));
      list.push(JSON.parse(it.item));
    }
    return rows.map((r: { id: string; response: string }) => {
      const response = JSON.parse(r.response) as StoredResponse["response"];
      return [...(inputs.get(r.id) ?? []), ...(Array.isArray(response.output) ? response.output : [])];
    });
  }

  /** Write what is queued, in batches of RESPONSE_BATCH; called under the store's write lock. */
  async flush(): Promise<void> {
    // What is queued now, taken once: records put while this flush runs wait for the next one, so a steady stream of
    // puts cannot keep the write lock held (and the queue is copied once, not once per batch).
    const queued = [...this.pending.values()];
    for (let i = 0; i < queued.length; i += RESPONSE_BATCH) {
      const batch = queued.slice(i, i + RESPONSE_BATCH);
      await this.db.tx((tx) => this.write(tx, batch));
      // Only what was written leaves the queue: a record put again meanwhile stays for the next batch.
      for (const p of batch) if (this.pending.get(p.row.id) === p) this.pending.delete(p.row.id);
    }
  }

  /** One transaction per batch. Upserts, so a batch retried after an unknown commit outcome writes the same rows. */
  private async write(tx: SQL, batch: Pending[]): Promise<void> {
    const ids = batch.map((p) => p.row.id);
    const rows = batch.map(({ row: r }) => ({
      id: r.id,
      created_at: r.createdAt,
      expires_at: r.expiresAt,
      model: r.model,
      provider: r.provider,
      previous_response_id: r.previousResponseId,
      owner: r.owner,
      response: JSON.stringify(r.response),
    }));
    const items = batch.flatMap((p) =>
      p.input.map((it, position) => ({ response_id: p.row.id, position, item_id: it.id as string, item: JSON.stringify(it) })),
    );
    await tx`DELETE FROM response_items WHERE response_id IN ${tx(ids)}`;
    await tx`INSERT INTO responses ${tx(rows)} ON CONFLICT (id) DO UPDATE SET
      created_at = excluded.created_at, expires_at = excluded.expires_at, model = excluded.model,
      provider = excluded.provider, previous_response_id = excluded.previous_response_id, owner = excluded.owner,
      response = excluded.response`;
    this.db.statements += 2;
    for (let i = 0; i < items.length; i += ITEM_ROWS_PER_INSERT) {
      await tx`INSERT INTO response_items ${tx(items.slice(i, i + ITEM_ROWS_PER_INSERT))}`;
      this.db.statements++;
    }
  }

  /** Delete expired responses and their items; returns how many responses went. */
  async sweep(): Promise<number> {
    const now = this.o.now();
    return this.db.locked(() =>
      this.db.tx(async (tx) => {
        await tx`DELETE FROM response_items WHERE response_id IN (SELECT id FROM responses WHERE expires_at <= ${now})`;
        const r = await tx`DELETE FROM responses WHERE expires_at <= ${now}`;
        this.db.statements += 2;
        for (const [id, p] of this.pending) if (p.row.expiresAt <= now) this.pending.delete(id);
        return r.count;
      }),
    );
  }
}
