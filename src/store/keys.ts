// Virtual keys: admin CRUD, written at once (the admin path is not the request path). Only digests are stored; the
// caller hashes the secret. Revoking keeps the row (spend and audit refer to it) and hides it from get and list.
import type { Db } from "./db.ts";
import type { KeyCreate, KeyPatch, KeyRecord } from "./schema.ts";

const COLUMNS = {
  label: "label",
  models: "models",
  rpm: "rpm",
  tpm: "tpm",
  maxConcurrent: "max_concurrent",
  budgetUsd: "budget_usd",
  budgetPeriod: "budget_period",
  expiresAt: "expires_at",
  metadata: "metadata",
} as const satisfies Record<keyof KeyPatch, string>;

const JSON_FIELDS = new Set<keyof KeyPatch>(["models", "metadata"]);

const num = (v: unknown) => (v == null ? null : Number(v));

function recordOf(r: Record<string, unknown>): KeyRecord {
  return {
    id: String(r.id),
    digest: String(r.digest),
    label: String(r.label),
    models: r.models == null ? null : JSON.parse(String(r.models)),
    rpm: num(r.rpm),
    tpm: num(r.tpm),
    maxConcurrent: num(r.max_concurrent),
    budgetUsd: num(r.budget_usd),
    budgetPeriod: (r.budget_period ?? null) as KeyRecord["budgetPeriod"],
    expiresAt: num(r.expires_at),
    metadata: r.metadata == null ? null : JSON.parse(String(r.metadata)),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    revokedAt: num(r.revoked_at),
  };
}

/** The patch as column → value, JSON fields serialised; undefined fields left out. */
function columnsOf(patch: KeyPatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(COLUMNS) as [keyof KeyPatch, string][]) {
    const v = patch[field];
    if (v === undefined) continue;
    out[column] = v !== null && JSON_FIELDS.has(field) ? JSON.stringify(v) : v;
  }
  return out;
}

export class Keys {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  async create(k: KeyCreate): Promise<KeyRecord> {
    const now = this.now();
    const rec: KeyRecord = {
      id: k.id ?? `key_${crypto.randomUUID().replaceAll("-", "")}`,
      digest: k.digest,
      label: k.label,
      models: k.models ?? null,
      rpm: k.rpm ?? null,
      tpm: k.tpm ?? null,
      maxConcurrent: k.maxConcurrent ?? null,
      budgetUsd: k.budgetUsd ?? null,
      budgetPeriod: k.budgetPeriod ?? null,
      expiresAt: k.expiresAt ?? null,
      metadata: k.metadata ?? null,
      createdAt: now,
      updatedAt: now,
      revokedAt: null,
    };
    const row = { id: rec.id, digest: rec.digest, ...columnsOf(rec), created_at: now, updated_at: now, revoked_at: null };
    await this.db.locked(async () => {
      const sql = this.db.sql;
      await sql`INSERT INTO keys ${sql(row)}`;
      this.db.statements++;
    });
    return rec;
  }

  /** The key with this digest, revoked or expired ones included (the caller decides: both are a 401). */
  async byDigest(digest: string): Promise<KeyRecord | null> {
    const sql = this.db.sql;
    const [r] = await sql`SELECT * FROM keys WHERE digest = ${digest}`;
    return r ? recordOf(r) : null;
  }

  /** An active (not revoked) key. */
  async get(id: string): Promise<KeyRecord | null> {
    const sql = this.db.sql;
    const [r] = await sql`SELECT * FROM keys WHERE id = ${id} AND revoked_at IS NULL`;
    return r ? recordOf(r) : null;
  }

  /** Active keys, oldest first. */
  async list(): Promise<KeyRecord[]> {
    const sql = this.db.sql;
    const rows = await sql`SELECT * FROM keys WHERE revoked_at IS NULL ORDER BY created_at, id`;
    return rows.map(recordOf);
  }

  /**
   * Keys (revoked ones too) changed after `since` (epoch ms): for replicas that cache keys and poll for changes. Times
   * come from each writer's clock, so poll with an overlap (since = last look − a few seconds).
   */
  async changedSince(since: number): Promise<KeyRecord[]> {
    const sql = this.db.sql;
    const rows = await sql`SELECT * FROM keys WHERE updated_at > ${since} ORDER BY updated_at, id`;
    return rows.map(recordOf);
  }

  /** The changed key, or null when there is no active key with this id. */
  async update(id: string, patch: KeyPatch): Promise<KeyRecord | null> {
    const set = { ...columnsOf(patch), updated_at: this.now() };
    return this.db.locked(async () => {
      const sql = this.db.sql;
      const r = await sql`UPDATE keys SET ${sql(set)} WHERE id = ${id} AND revoked_at IS NULL`;
      this.db.statements++;
      return r.count > 0 ? this.get(id) : null;
    });
  }

  /** Whether an active key was revoked. */
  async revoke(id: string): Promise<boolean> {
    const now = this.now();
    return this.db.locked(async () => {
      const sql = this.db.sql;
      const r = await sql`UPDATE keys SET revoked_at = ${now}, updated_at = ${now} WHERE id = ${id} AND revoked_at IS NULL`;
      this.db.statements++;
      return r.count > 0;
    });
  }
}
