import { z } from 'zod';
import { BadInput, ChainBroken } from '../errors.js';
import { CATALOGUE, type EventData, type EventDraft, type EventType } from './catalogue.js';
import { canonicalize, sha256Hex } from './hashing.js';

export const Actor = z
  .object({ kind: z.enum(['operator', 'harness', 'system']), id: z.string().min(1) })
  .strict();
export type Actor = z.infer<typeof Actor>;

const EnvelopeHead = z
  .object({
    id: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/),
    stream: z.string().min(1),
    version: z.number().int().nonnegative(),
    type: z.string(),
    schemaVersion: z.number().int().positive(),
    recordedAt: z.iso.datetime({ offset: true }),
    actor: Actor,
    correlationId: z.string().min(1),
    causationId: z.string().min(1).nullable(),
    data: z.unknown(),
    prevHash: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  })
  .strict();

type Head = Omit<z.infer<typeof EnvelopeHead>, 'type' | 'data'>;

/** A sealed ledger event: the envelope and its hash. */
export type LedgerEvent = { [T in EventType]: Head & { type: T; data: EventData<T>; hash: string } }[EventType];

/** An event as the writer hands it to the store; the store gives it its place in the chain. */
export type NewEvent = EventDraft & {
  id: string;
  recordedAt: string;
  actor: Actor;
  correlationId: string;
  causationId: string | null;
};

/**
 * A ledger event with its position in the global log (not hashed: positions differ between stores)
 * and the canonical body its hash covers.
 */
export type RecordedEvent = { position: number; event: LedgerEvent; body: string };

export class UnsupportedEvent extends BadInput {}

export function isKnownType(type: string): type is EventType {
  return Object.hasOwn(CATALOGUE, type);
}

/** Validates a draft's data against its schema; the error names the event type and field. */
export function validateNew(event: NewEvent): void {
  if (!isKnownType(event.type)) throw new UnsupportedEvent(`unknown event type ${JSON.stringify(event.type)}`);
  const result = CATALOGUE[event.type].data.safeParse(event.data);
  if (!result.success) throw new BadInput(`event ${event.type} is invalid: ${formatIssues(result.error)}`);
}

/** Places an event at `version` after `prevHash`; returns the canonical body that is stored and hashed. */
export function seal(event: NewEvent, stream: string, version: number, prevHash: string | null) {
  const unhashed = {
    id: event.id,
    stream,
    version,
    type: event.type,
    schemaVersion: CATALOGUE[event.type].schemaVersion,
    recordedAt: event.recordedAt,
    actor: event.actor,
    correlationId: event.correlationId,
    causationId: event.causationId,
    data: event.data,
    prevHash,
  };
  const body = canonicalize(unhashed);
  const hash = sha256Hex(body);
  return { body, hash, event: { ...unhashed, hash } as LedgerEvent };
}

/**
 * Opens a stored event: the body must hash to `hash` and parse as a known, current event type.
 * `expectedPrev` (when given) is the previous event's hash in the same stream.
 */
export function openSealed(body: string, hash: string, expectedPrev?: string | null): LedgerEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new ChainBroken('?', -1, '?', 'stored body is not JSON');
  }
  const head = EnvelopeHead.safeParse(raw);
  if (!head.success) {
    const r = raw as { stream?: string; version?: number; id?: string };
    throw new ChainBroken(String(r?.stream), Number(r?.version), String(r?.id), `envelope invalid: ${formatIssues(head.error)}`);
  }
  const env = head.data;
  if (sha256Hex(body) !== hash) throw new ChainBroken(env.stream, env.version, env.id, 'content does not match its hash');
  if (expectedPrev !== undefined && env.prevHash !== expectedPrev) {
    throw new ChainBroken(env.stream, env.version, env.id, 'prevHash does not link to the previous event');
  }
  if (!isKnownType(env.type)) throw new UnsupportedEvent(`event ${env.id} in ${env.stream} has unknown type ${env.type}`);
  const current = CATALOGUE[env.type].schemaVersion;
  if (env.schemaVersion > current) {
    throw new UnsupportedEvent(
      `event ${env.id} in ${env.stream} is ${env.type} schema v${env.schemaVersion}, written by a newer cto-ledger (this one reads v${current})`,
    );
  }
  const data = CATALOGUE[env.type].data.safeParse(env.data);
  if (!data.success) throw new ChainBroken(env.stream, env.version, env.id, `data invalid: ${formatIssues(data.error)}`);
  return { ...env, hash } as LedgerEvent;
}

/**
 * The canonical JSON of the whole event, hash included, made from the stored canonical body without
 * re-serialising: `hash` sorts between `data` and `id`, and everything after `data` is flat.
 */
export function canonicalWithHash(body: string, hash: string): string {
  const at = body.lastIndexOf(',"id":"');
  return `${body.slice(0, at)},"hash":"${hash}"${body.slice(at)}`;
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
