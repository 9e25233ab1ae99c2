import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { CATALOGUE } from '../../src/events/catalogue.js';
import { EnvelopeHead, envelopeHeadOf, openSealed, seal } from '../../src/events/envelope.js';
import { canonicalize, cutWhole, sha256Hex, wellFormed } from '../../src/events/hashing.js';
import { newEvent } from '../../src/ledger/new-event.js';
import { runEvent } from '../../bench/workload.js';
import { sampleEvent } from '../fixtures/events.js';

// A read hands out zod's parsed copy of an event's data (faster to fold and to serialise than
// JSON.parse's objects). That is only faithful while no read schema adds or changes anything.

type Def = { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; innerType?: z.ZodType; options?: z.ZodType[]; valueType?: z.ZodType; items?: z.ZodType[] };
const def = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Paths of the nodes of a schema that would make its output differ from its input. */
function rewritingNodes(schema: z.ZodType, path: string, out: string[]): string[] {
  const d = def(schema);
  if (['default', 'prefault', 'catch', 'transform', 'pipe', 'success'].includes(d.type)) out.push(`${path} (${d.type})`);
  if (d.type === 'string' && (schema as unknown as { _zod: { def: { checks?: Array<{ _zod: { def: { check: string } } }> } } })._zod.def.checks?.some((c) => c._zod.def.check === 'overwrite')) {
    out.push(`${path} (trim or case change)`);
  }
  for (const [key, child] of Object.entries(d.shape ?? {})) rewritingNodes(child, `${path}.${key}`, out);
  for (const child of [d.element, d.innerType, d.valueType].filter(Boolean) as z.ZodType[]) rewritingNodes(child, path, out);
  for (const child of [...(d.options ?? []), ...(d.items ?? [])]) rewritingNodes(child, path, out);
  return out;
}

describe('event catalogue', () => {
  it('has no read schema that adds defaults or rewrites values', () => {
    const found = Object.entries(CATALOGUE).flatMap(([type, entry]) => rewritingNodes(entry.data as z.ZodType, type, []));
    expect(found).toEqual([]);
  });

  it('finds a rewriting node when there is one (the check above can fail)', async () => {
    const { ContractInput } = await import('../../src/contract/schema.js');
    expect(rewritingNodes(ContractInput as unknown as z.ZodType, 'ContractInput', []).length).toBeGreaterThan(0);
  });

  it.each([
    ['id', 'not-a-ulid', /id: not a ULID/],
    ['recordedAt', 'yesterday', /recordedAt: not an ISO 8601 date-time/],
    ['prevHash', 'abc', /prevHash: not a sha256 hex digest/],
    ['version', -1, /version: not a non-negative integer/],
    ['correlationId', '', /correlationId: empty/],
  ])('refuses on read an envelope whose %s is malformed, even when its hash matches', (field, value, message) => {
    const sealed = seal(sampleEvent(1), 'run-x', 1, 'a'.repeat(64));
    const { hash: _, ...body } = sealed.event as unknown as Record<string, unknown>;
    const forged = canonicalize({ ...body, [field]: value });
    const place = { position: 7, id: sealed.event.id, stream: 'run-x', version: 1, type: sealed.event.type };
    expect(() => openSealed(forged, sha256Hex(forged), place)).toThrow(message);
    expect(() => openSealed(sealed.body, sealed.hash, place)).not.toThrow();
  });

  it('reads every event back to exactly the bytes its hash covers', () => {
    const runId = '01JD0000000000000000000000';
    const drafts = [...Array.from({ length: 10 }, (_, n) => runEvent(runId, n, new Date())), sampleEvent(1)];
    drafts.push(
      newEvent(
        { type: 'TargetAdmissionRevoked', data: { targetId: 't', revokedBy: 'jp', reason: 'done' } },
        { actor: { kind: 'operator', id: 'jp' }, correlationId: 'c', now: new Date() },
      ),
    );
    let prev: string | null = null;
    drafts.forEach((draft, version) => {
      const sealed = seal(draft, 'run-x', version, prev);
      const read = openSealed(sealed.body, sealed.hash, { position: version + 1, id: draft.id, stream: 'run-x', version, type: draft.type }, prev, true);
      const { hash, ...body } = read;
      expect(canonicalize(body)).toBe(sealed.body);
      expect(hash).toBe(sealed.hash);
      prev = sealed.hash;
    });
  });

  it('checks envelopes by hand exactly as the schema does: nothing it refuses passes, and what passes is its output', () => {
    const sealed = seal(sampleEvent(1), 'run-x', 1, 'a'.repeat(64));
    const { hash: _, ...valid } = JSON.parse(sealed.body) as Record<string, unknown>;
    const values: unknown[] = [undefined, null, '', 'x', 0, -1, 1, 1.5, 2 ** 53, Infinity, true, [], {}, 'a'.repeat(64), 'A'.repeat(64), '01JD0000000000000000000000', '01JD000000000000000000000I', '2026-11-25T10:00:00.000Z', '2026-11-25T10:00:00+01:00', '2026-13-25T10:00:00Z', { kind: 'system', id: 't' }, { kind: 'robot', id: 't' }, { kind: 'system', id: '' }, { kind: 'system' }, { kind: 'system', id: 't', more: 1 }];
    const variants: unknown[] = [valid, null, [], 'x', { ...valid, extra: 1 }, JSON.parse(`{"__proto__":1,${sealed.body.slice(1)}`) as unknown];
    for (const key of Object.keys(valid)) {
      const { [key]: _dropped, ...without } = valid;
      variants.push(without);
      for (const value of values) variants.push({ ...valid, [key]: value });
    }
    let accepted = 0;
    for (const input of variants) {
      const fast = envelopeHeadOf(input);
      const schema = EnvelopeHead.safeParse(input);
      if (fast === null) continue;
      accepted += 1;
      expect(schema.success).toBe(true);
      // The same object: keys, their order, and the values.
      expect(JSON.stringify(fast)).toBe(JSON.stringify(schema.data));
      expect(fast.data).toBe(schema.data?.data);
    }
    // The valid envelope and its valid variants (another id, time, actor...) take the hand-checked way.
    expect(accepted).toBeGreaterThan(10);
  });
});

// A detail cut to a length before it goes on the ledger (the harness's "the patch could not be made")
// must not end in half a surrogate pair: the append refuses it, and the run's record with it.
describe('cutWhole', () => {
  it('never leaves half of a surrogate pair at the cut, and cuts elsewhere as slice does', () => {
    const text = `${'x'.repeat(499)}😀 and more`;
    expect(text.slice(0, 500)).not.toSatisfy(wellFormed);
    expect(cutWhole(text, 500)).toBe('x'.repeat(499));
    expect(cutWhole(text, 501)).toBe(`${'x'.repeat(499)}😀`);
    expect(cutWhole('short', 500)).toBe('short');
    expect(cutWhole('a\ud800', 500)).toBe('a\ud800'); // not cut there: not its to mend (the append names it)
  });
});
