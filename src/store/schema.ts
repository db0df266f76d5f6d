// The data the store keeps, as TypeBox schemas; the TypeScript types derive from them. Field names are camelCase
// here and snake_case in the tables (and on the admin wire, which the routes map).
import { Type as T, type Static, type TSchema } from "@sinclair/typebox";

const Nullable = <S extends TSchema>(s: S) => T.Union([s, T.Null()]);
/** Epoch milliseconds. */
const Millis = T.Number();

/** A Responses API item (`message`, `function_call`, `function_call_output`, `reasoning`, …), kept as given. */
export const Item = T.Intersect([T.Object({ type: T.Optional(T.String()), id: T.Optional(T.String()) }), T.Record(T.String(), T.Unknown())]);
export type Item = Static<typeof Item>;

/** What `responses.put` takes: one answered turn. */
export const ResponseRecord = T.Object({
  id: T.String({ minLength: 1 }),
  /** Defaults to the store's clock. */
  createdAt: T.Optional(Millis),
  /** Defaults to createdAt + retentionDays. */
  expiresAt: T.Optional(Millis),
  model: T.String(),
  provider: T.String(),
  previousResponseId: T.Optional(Nullable(T.String())),
  /** Who stored it (the gateway key's stable name; "" without keys): reads by anyone else find nothing. */
  owner: T.Optional(T.String()),
  /** The Response object as the client saw it; its `output` array holds this turn's output items. */
  response: T.Intersect([T.Object({ output: T.Optional(T.Array(Item)) }), T.Record(T.String(), T.Unknown())]),
  /** This turn's input items (not the earlier turns'), in order. An item without an `id` gets `itm_<response id>_<n>`. */
  input: T.Array(Item),
});
export type ResponseRecord = Static<typeof ResponseRecord>;

/** What `responses.get` returns: the record without its input items, with its times filled in. */
export const StoredResponse = T.Object({
  id: T.String(),
  createdAt: Millis,
  expiresAt: Millis,
  model: T.String(),
  provider: T.String(),
  previousResponseId: Nullable(T.String()),
  owner: T.String(),
  response: ResponseRecord.properties.response,
});
export type StoredResponse = Static<typeof StoredResponse>;

export const ItemPage = T.Object({
  data: T.Array(Item),
  firstId: Nullable(T.String()),
  lastId: Nullable(T.String()),
  hasMore: T.Boolean(),
});
export type ItemPage = Static<typeof ItemPage>;

export const BudgetPeriod = T.Union([T.Literal("daily"), T.Literal("weekly"), T.Literal("monthly"), T.Literal("total")]);
export type BudgetPeriod = Static<typeof BudgetPeriod>;

/** The settings of a virtual key that an admin may set and change; null means "no limit" / "none". */
const KeySettings = {
  label: T.String(),
  models: Nullable(T.Array(T.String())),
  rpm: Nullable(T.Integer({ minimum: 1 })),
  tpm: Nullable(T.Integer({ minimum: 1 })),
  maxConcurrent: Nullable(T.Integer({ minimum: 1 })),
  budgetUsd: Nullable(T.Number({ minimum: 0 })),
  budgetPeriod: Nullable(BudgetPeriod),
  expiresAt: Nullable(Millis),
  metadata: Nullable(T.Record(T.String(), T.Unknown())),
};

/** A virtual key as stored: its secret is never here, only the digest the caller computed from it. */
export const KeyRecord = T.Object({
  id: T.String(),
  digest: T.String(),
  ...KeySettings,
  createdAt: Millis,
  updatedAt: Millis,
  revokedAt: Nullable(Millis),
});
export type KeyRecord = Static<typeof KeyRecord>;

export const KeyCreate = T.Object({
  /** Defaults to `key_<random>`. */
  id: T.Optional(T.String({ minLength: 1 })),
  digest: T.String({ minLength: 1 }),
  label: KeySettings.label,
  models: T.Optional(KeySettings.models),
  rpm: T.Optional(KeySettings.rpm),
  tpm: T.Optional(KeySettings.tpm),
  maxConcurrent: T.Optional(KeySettings.maxConcurrent),
  budgetUsd: T.Optional(KeySettings.budgetUsd),
  budgetPeriod: T.Optional(KeySettings.budgetPeriod),
  expiresAt: T.Optional(KeySettings.expiresAt),
  metadata: T.Optional(KeySettings.metadata),
});
export type KeyCreate = Static<typeof KeyCreate>;

/** Absent fields stay as they are; null clears. */
export const KeyPatch = T.Partial(T.Object(KeySettings));
export type KeyPatch = Static<typeof KeyPatch>;

/** One request's cost, as `spend.add` takes it. */
export const SpendEntry = T.Object({
  /** The virtual key's id; the caller picks a stable name for traffic without one. */
  keyId: T.String(),
  provider: T.String(),
  model: T.String(),
  costUsd: T.Number({ minimum: 0 }),
  inputTokens: T.Integer({ minimum: 0 }),
  outputTokens: T.Integer({ minimum: 0 }),
  /** When the request happened (epoch ms); decides its UTC day. Defaults to the store's clock. */
  at: T.Optional(Millis),
});
export type SpendEntry = Static<typeof SpendEntry>;

export const SpendTotals = T.Object({
  spendUsd: T.Number(),
  requests: T.Integer(),
  inputTokens: T.Integer(),
  outputTokens: T.Integer(),
});
export type SpendTotals = Static<typeof SpendTotals>;

export const SpendGroupBy = T.Union([T.Literal("key"), T.Literal("model"), T.Literal("provider"), T.Literal("day")]);
export type SpendGroupBy = Static<typeof SpendGroupBy>;

export const SpendRow = T.Composite([T.Object({ group: T.String() }), SpendTotals]);
export type SpendRow = Static<typeof SpendRow>;
