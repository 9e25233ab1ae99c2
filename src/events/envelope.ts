import { z } from 'zod';
import { BadInput, ChainBroken } from '../errors.js';
import { CATALOGUE, SHA256_HEX, ULID, type EventData, type EventDraft, type EventType } from './catalogue.js';
import { canonicalize, sha256Hex, wellFormed } from './hashing.js';

export const Actor = z
  .object({ kind: z.enum(['operator', 'harness', 'system']), id: z.string().min(1) })
  .strict();
export type Actor = z.infer<typeof Actor>;

/**
 * RFC 3339 date-time with an offset, as `Date.prototype.toISOString` writes it. Looser than the data's
 * z.iso.datetime on day ranges (a 31st in a 30-day month passes), for a field the ledger writes itself.
 */
const DATE_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

// Read for every event of every rebuild: the formats are checked in one refinement, about twice as
// fast as one zod check per field, with the same issues reported (path and message).
export const EnvelopeHead = z
  .object({
    id: z.string(),
    stream: z.string(),
    version: z.number(),
    type: z.string(),
    schemaVersion: z.number(),
    recordedAt: z.string(),
    actor: z.object({ kind: Actor.shape.kind, id: z.string() }).strict(),
    correlationId: z.string(),
    causationId: z.string().nullable(),
    data: z.unknown(),
    prevHash: z.string().nullable(),
  })
  .strict()
  .superRefine((head, ctx) => {
    const bad = (path: Array<string>, message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (!ULID.test(head.id)) bad(['id'], 'not a ULID');
    if (head.stream.length === 0) bad(['stream'], 'empty');
    if (!Number.isSafeInteger(head.version) || head.version < 0) bad(['version'], 'not a non-negative integer');
    if (!Number.isSafeInteger(head.schemaVersion) || head.schemaVersion < 1) bad(['schemaVersion'], 'not a positive integer');
    if (!DATE_TIME.test(head.recordedAt)) bad(['recordedAt'], 'not an ISO 8601 date-time with offset');
    if (head.actor.id.length === 0) bad(['actor', 'id'], 'empty');
    if (head.correlationId.length === 0) bad(['correlationId'], 'empty');
    if (head.causationId !== null && head.causationId.length === 0) bad(['causationId'], 'empty');
    if (head.prevHash !== null && !SHA256_HEX.test(head.prevHash)) bad(['prevHash'], 'not a sha256 hex digest');
  });

type Head = Omit<z.infer<typeof EnvelopeHead>, 'type' | 'data'>;

const HEAD_KEYS: ReadonlySet<string> = new Set(Object.keys(EnvelopeHead.shape));
const ACTOR_KEYS: ReadonlySet<string> = new Set(['kind', 'id']);
const ACTOR_KINDS: ReadonlySet<unknown> = new Set(Actor.shape.kind.options);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * EnvelopeHead.safeParse's output for an envelope it accepts, checked by hand: a rebuild opens every
 * event, and this costs a tenth of the schema. It accepts nothing the schema refuses (the same keys,
 * types and formats, unknown keys refused as `.strict()` does) and builds the same object, keys in
 * the schema's order. Null means "not certainly valid": the schema then decides and names the issues.
 */
export function envelopeHeadOf(raw: unknown): z.infer<typeof EnvelopeHead> | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const r = raw as Record<string, unknown>;
  for (const key in r) if (!HEAD_KEYS.has(key)) return null;
  const { id, stream, version, type, schemaVersion, recordedAt, actor, correlationId, causationId, prevHash } = r;
  if (!(typeof id === 'string' && ULID.test(id)) || !nonEmpty(stream) || typeof type !== 'string') return null;
  if (!(typeof version === 'number' && Number.isSafeInteger(version) && version >= 0)) return null;
  if (!(typeof schemaVersion === 'number' && Number.isSafeInteger(schemaVersion) && schemaVersion >= 1)) return null;
  if (!(typeof recordedAt === 'string' && DATE_TIME.test(recordedAt)) || !nonEmpty(correlationId)) return null;
  if (!(causationId === null || nonEmpty(causationId)) || !(prevHash === null || (typeof prevHash === 'string' && SHA256_HEX.test(prevHash)))) return null;
  if (typeof actor !== 'object' || actor === null || Array.isArray(actor)) return null;
  const a = actor as Record<string, unknown>;
  for (const key in a) if (!ACTOR_KEYS.has(key)) return null;
  const { kind, id: actorId } = a;
  if (!ACTOR_KINDS.has(kind) || !nonEmpty(actorId) || !('data' in r)) return null;
  return {
    id,
    stream,
    version,
    type,
    schemaVersion,
    recordedAt,
    actor: { kind: kind as Actor['kind'], id: actorId },
    correlationId,
    causationId,
    data: r.data,
    prevHash,
  };
}

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

/**
 * Validates a draft as every read will: its envelope (id, time, actor, correlation) and its data.
 * Whatever is appended must read back, for the log is never rewritten: an event that would not open
 * would break its stream for good. The error names the event type and field.
 */
export function validateNew(event: NewEvent): void {
  if (!isKnownType(event.type)) throw new UnsupportedEvent(`unknown event type ${JSON.stringify(event.type)}`);
  // The place is the store's to give; checked here with a stand-in. The schema runs (and names the
  // issues) only when the hand check, which reads alike and costs a tenth, is not sure.
  const unplaced = envelope(event, 'checked-by-the-store', 0, null);
  if (!envelopeHeadOf(unplaced)) {
    const head = EnvelopeHead.safeParse(unplaced);
    if (!head.success) throw new BadInput(`event ${event.type} is invalid: ${formatIssues(head.error)}`);
  }
  const result = CATALOGUE[event.type].data.safeParse(event.data);
  if (!result.success) throw new BadInput(`event ${event.type} is invalid: ${formatIssues(result.error)}`);
  const lone = loneSurrogateAt(unplaced);
  if (lone) throw new BadInput(`event ${event.type} is invalid: ${lone.join('.') || '(root)'}: a lone UTF-16 surrogate, which has no RFC 8785 canonical form (no UTF-8 for it; another verifier would refuse the event or hash another body)`);
}

/**
 * The path of the first string or key holding a lone surrogate, as the canonical JSON would visit
 * them; null when none. The path is built on the way back from a find, so a clean event (every
 * append's) allocates nothing.
 */
function loneSurrogateAt(value: unknown): string[] | null {
  if (typeof value === 'string') return wellFormed(value) ? null : [];
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = loneSurrogateAt(value[i]);
      if (at) return [String(i), ...at];
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    if (!wellFormed(key)) return [JSON.stringify(key)];
    const at = loneSurrogateAt((value as Record<string, unknown>)[key]);
    if (at) return [key, ...at];
  }
  return null;
}

/** The envelope of an event at its place in a stream, without its hash. */
function envelope(event: NewEvent, stream: string, version: number, prevHash: string | null) {
  return {
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
}

/** Places an event at `version` after `prevHash`; returns the canonical body that is stored and hashed. */
export function seal(event: NewEvent, stream: string, version: number, prevHash: string | null) {
  const unhashed = envelope(event, stream, version, prevHash);
  const body = canonicalize(unhashed);
  const hash = sha256Hex(body);
  return { body, hash, event: Object.assign(unhashed, { hash }) as LedgerEvent };
}

/**
 * Where the store keeps an event: its own columns (or the memory store's fields), by which streams are
 * read and positions ordered. The hashed body must say the same, or a row copied or moved under other
 * columns would be read as another stream's event.
 */
export type StoredPlace = { position: number; id: string; stream: string; version: number; type: string };

/**
 * Opens a stored event: the body must hash to `hash`, agree with the place it is stored at, and parse
 * as a known, current event type. `expectedPrev` (when given) is the previous event's hash in the same
 * stream. `canonical`: also check the body is the RFC 8785 form of itself, as an outside verifier
 * recomputes it (a full re-serialisation: done on stream reads, not on every event of a rebuild).
 */
export function openSealed(body: string, hash: string, place: StoredPlace, expectedPrev?: string | null, canonical = false): LedgerEvent {
  const broken = (reason: string) => new ChainBroken(place.stream, place.version, place.id, reason, place.position);
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw broken('stored body is not JSON');
  }
  let env = envelopeHeadOf(raw);
  if (!env) {
    const head = EnvelopeHead.safeParse(raw);
    if (!head.success) throw broken(`envelope invalid: ${formatIssues(head.error)}`);
    env = head.data;
  }
  if (sha256Hex(body) !== hash) throw broken('content does not match its hash');
  if (env.stream !== place.stream || env.version !== place.version || env.id !== place.id || env.type !== place.type) {
    throw broken(`stored as ${place.type} v${place.version} of ${place.stream}, but its hashed body is ${env.type} v${env.version} of ${env.stream} (event ${env.id})`);
  }
  if (expectedPrev !== undefined && env.prevHash !== expectedPrev) throw broken('prevHash does not link to the previous event');
  if (canonical) {
    let form: string;
    try {
      form = canonicalize(raw);
    } catch (err) {
      // A number JSON.parse reads as Infinity (1e400, say) has no RFC 8785 form at all.
      throw broken(`stored body has no RFC 8785 canonical form (${(err as Error).message})`);
    }
    if (form !== body) throw broken('stored body is not in RFC 8785 canonical form, so its hash is not the canonical one');
  }
  if (!isKnownType(env.type)) throw new UnsupportedEvent(`event ${env.id} in ${env.stream} (position ${place.position}) has unknown type ${env.type}`);
  const current = CATALOGUE[env.type].schemaVersion;
  if (env.schemaVersion > current) {
    throw new UnsupportedEvent(
      `event ${env.id} in ${env.stream} (position ${place.position}) is ${env.type} schema v${env.schemaVersion}, written by a newer cto-ledger (this one reads v${current})`,
    );
  }
  const data = CATALOGUE[env.type].data.safeParse(env.data);
  if (!data.success) throw broken(`data invalid: ${formatIssues(data.error)}`);
  // zod's output is a fresh object of our own: completed in place rather than copied once more. Its
  // `data` is the stored data itself (zod's parsed copy could carry defaults the hash never covered).
  return Object.assign(env, { data: data.data, hash }) as LedgerEvent;
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
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${shortMessage(i)}`)
    .join('; ');
}

/** An issue's message, its list of keys cut short: 40,000 unknown keys made one line of 400 KB. */
function shortMessage(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'unrecognized_keys' || issue.keys.length <= 5) return issue.message;
  const shown = issue.keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ');
  return `Unrecognized keys: ${shown} and ${issue.keys.length - 5} more`;
}
