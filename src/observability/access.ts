// The access record: one per request, filled in as the request goes and handed to logs and metrics when it ends.
import type { Usage } from "../openai/schema.ts";

export interface AccessRecord {
  requestId: string;
  method: string;
  route: string;
  status: number;
  /** The model the client asked for. */
  model?: string;
  /** Who answered (or was tried last). */
  provider?: string;
  upstreamModel?: string;
  attempts: number;
  retries: number;
  failovers: number;
  stream: boolean;
  /** ms from arrival to the first byte of the answer. */
  ttfbMs?: number;
  durationMs: number;
  usage?: Usage;
  /** The error kind when the request failed (rate_limit, timeout, bad_request, …). */
  error?: string;
  errorMessage?: string;
  finishReason?: string | null;
}

export interface RequestObserver {
  /** Called exactly once per request, after the last byte (or the failure). Must not block. */
  end(rec: AccessRecord): void;
}
