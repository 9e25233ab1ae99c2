import { userInfo } from 'node:os';
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { BadInput } from '../errors.js';

// Option parsers: a bad value is refused here, naming the option, before anything is read or
// appended. What reaches the ledger stays there for good, and is printed to terminals and logs.

/**
 * C0 and C1 control characters, DEL, line and paragraph separators, bidirectional overrides and
 * zero-width characters: in a name or reason they could forge lines in `events` output, or make two
 * operators look alike.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

/** A positive number up to `max` (a lifetime past it is a typo, and past year 275760 no date at all). */
export function positiveNumber(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || !Number.isFinite(n) || n <= 0) throw new BadInput(`${name} must be a positive number, at most ${max}, in digits (such as 24 or 1.5), got ${JSON.stringify(value)}`);
    if (n > max) throw new BadInput(`${name} must be at most ${max}, got ${value}`);
    return n;
  };
}

/**
 * One line of text for the ledger: no control characters; not blank unless `allowEmpty`. `name` (an
 * operator, an owner, an id): no spaces around it either, or " jp" and "jp" would be two people.
 */
export function lineOfText(name: string, options: { allowEmpty?: boolean; identity?: boolean } = {}) {
  // A name is a name, a reason a few sentences: every copy on the ledger is kept for good.
  const max = options.identity ? 200 : 4_000;
  return (value: string): string => {
    if (value.trim() === '' && !(options.allowEmpty && value === '')) throw new BadInput(`${name} must not be ${value === '' ? 'empty' : 'blank'}`);
    if (value.length > max) throw new BadInput(`${name} must be at most ${max} characters, got ${value.length}`);
    if (CONTROL.test(value)) throw new BadInput(`${name} must be one line of text without control characters, got ${JSON.stringify(value).replace(/[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`);
    if (options.identity && value !== value.trim()) throw new BadInput(`${name} must not begin or end with spaces, got ${JSON.stringify(value)}`);
    return value;
  };
}

/** The operator named by --by, else CTO_OPERATOR (when set and not blank), else the login name. */
export function operatorName(by: string | undefined): string {
  if (by !== undefined) return lineOfText('--by', { identity: true })(by);
  const fromEnv = process.env.CTO_OPERATOR;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return lineOfText('CTO_OPERATOR', { identity: true })(fromEnv);
  return lineOfText('the login name', { identity: true })(loginName());
}

/**
 * The login name of the user running this. A user id with no entry in the user database (a container
 * started with `--user 1000`, an arbitrary OpenShift uid) has none: Node's lookup then throws a system
 * error, which read as a store failure (exit 3, "uv_os_get_passwd returned ENOENT").
 */
function loginName(): string {
  try {
    return userInfo().username;
  } catch {
    throw new BadInput(`no operator name: user id ${process.getuid?.() ?? '?'} has no login name (no entry in the user database); pass --by NAME or set CTO_OPERATOR`);
  }
}

/**
 * A directory the command creates: refused under /proc and /sys, where Node 20's recursive mkdir
 * spins forever instead of failing.
 */
export function dirToMake(name: string) {
  return (value: string): string => {
    lineOfText(name)(value);
    if (/^\/(proc|sys)(\/|$)/.test(resolve(value))) throw new BadInput(`${name} ${value} is on a kernel file system (/proc, /sys): no directory can be made there`);
    return value;
  };
}

/**
 * A run id as typed: ULIDs are Crockford base32, which is case-insensitive, so a lower-case copy
 * names the same run. Anything else is passed on for the command to refuse, naming it.
 */
export function runIdArg(value: string): string {
  return /^[0-9a-hjkmnp-tv-z]{26}$/i.test(value) ? value.toUpperCase() : value;
}

/** One of the listed values, exactly: a typo is bad input, not a policy decision. */
export function oneOf(name: string, values: readonly string[]) {
  return (value: string): string => {
    if (!values.includes(value)) throw new BadInput(`${name} must be one of ${values.join(', ')}, got ${JSON.stringify(value)}`);
    return value;
  };
}

/** A contract digest as printed (sha256, hex); upper-case hex is the same digest. */
export function digestArg(value: string): string {
  if (!/^[0-9a-f]{64}$/i.test(value)) throw new BadInput(`--digest must be a sha256 digest (64 hex characters), got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

/**
 * Whether `path` (which need not exist yet) lies in `dir`, with every link on the way resolved: a
 * symlink to the ledger dir is the ledger dir.
 */
export function liesWithin(path: string, dir: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      const parent = dirname(p);
      return parent === p ? p : join(real(parent), basename(p));
    }
  };
  const target = real(resolve(path));
  const root = real(resolve(dir));
  return target === root || target.startsWith(root.endsWith(sep) ? root : root + sep);
}
