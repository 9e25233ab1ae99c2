import { createHash, hash } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';

export function sha256Hex(bytes: string | Uint8Array): string {
  // The one-shot form is about twice as fast on the small inputs the ledger hashes all day.
  return typeof bytes === 'string' ? hash('sha256', bytes, 'hex') : createHash('sha256').update(bytes).digest('hex');
}

/** sha256 of the RFC 8785 canonical JSON of a value: the digest of contracts, configs and events. */
export function digestOf(value: unknown): string {
  return sha256Hex(canonicalize(value));
}

const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether a string has an RFC 8785 form: no half of a UTF-16 surrogate pair alone (`\p{Cs}` under the
 * u flag matches no whole pair). Such a string has no UTF-8; another verifier would refuse it or read
 * U+FFFD, and hash another body. Events, contracts and config.yaml are all held to it.
 */
export function wellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** The first `max` code units of `text`, one fewer where the cut would leave half a surrogate pair (refused on the ledger). */
export function cutWhole(text: string, max: number): string {
  const cut = text.slice(0, max);
  return /[\ud800-\udbff]$/.test(cut) && /^[\udc00-\udfff]/.test(text.slice(max)) ? cut.slice(0, -1) : cut;
}

export { canonicalize };
