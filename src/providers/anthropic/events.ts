// SSE frames → typed Anthropic stream events. Known event types are checked against their schema; types Anthropic
// may add later become `unknown` and are skipped, as Anthropic's versioning policy asks of clients.
import type { TSchema } from "@sinclair/typebox";
import { AlloyError } from "../../errors.ts";
import type { SseFrame } from "../sse.ts";
import {
  ContentBlockDeltaEvent,
  ContentBlockStartEvent,
  ContentBlockStopEvent,
  ErrorEvent,
  MessageDeltaEvent,
  MessageStartEvent,
  MessageStopEvent,
  PingEvent,
  type StreamEvent,
} from "./schema.ts";
import { own } from "../../util/own.ts";
import { LazyCheck } from "../../util/lazy-check.ts";

const compile = (s: TSchema) => new LazyCheck(s);
const CHECKS: Record<string, ReturnType<typeof compile>> = {
  message_start: compile(MessageStartEvent),
  content_block_start: compile(ContentBlockStartEvent),
  content_block_delta: compile(ContentBlockDeltaEvent),
  content_block_stop: compile(ContentBlockStopEvent),
  message_delta: compile(MessageDeltaEvent),
  message_stop: compile(MessageStopEvent),
  ping: compile(PingEvent),
  error: compile(ErrorEvent),
};

export function parseEvent(frame: SseFrame): StreamEvent {
  let json: unknown;
  try {
    json = JSON.parse(frame.data);
  } catch {
    throw new AlloyError("server", `Anthropic sent a stream event that is not JSON (${frame.event ?? "no event name"})`);
  }
  const type = (json as { type?: unknown } | null)?.type ?? frame.event;
  if (typeof type !== "string") throw new AlloyError("server", "Anthropic sent a stream event without a type");
  const check = own(CHECKS, type);
  if (!check) return { type: "unknown", name: type };
  if (!check.Check(json)) throw new AlloyError("server", `Anthropic sent a malformed ${type} event`);
  return json as StreamEvent;
}
