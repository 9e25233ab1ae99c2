import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { YAMLParseError } from 'yaml';
import { z } from 'zod';
import { BadInput } from '../errors.js';
import { readRegularFile } from '../read-file.js';
import { parseKeepingPlaces, placeOf, placeOfIssue } from './unique-keys.js';
import { formatIssues } from '../events/envelope.js';
import { digestOf, wellFormed } from '../events/hashing.js';
import { WHOLE_CHARACTERS } from '../contract/schema.js';

// A DNS name of dot-separated labels (no empty label, none starting or ending with a dash) and an
// optional port 1-65535: an entry that can never match a real connection is a mistake to point out.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const host = z
  .string()
  .regex(new RegExp(`^${LABEL}(?:\\.${LABEL})*(?::\\d{1,5})?$`, 'i'), 'an exact host, optionally with :port')
  .refine((entry) => {
    const port = entry.includes(':') ? Number(entry.split(':')[1]) : 443;
    return port >= 1 && port <= 65535;
  }, 'a port from 1 to 65535');

/**
 * Variables the harness sets itself, or that change how programs load and resolve: a secret of that
 * name would replace the sandbox's own (a PATH past the shims, another CTO_RUN_ID, an LD_PRELOAD).
 */
const RESERVED_SECRET = /^(PATH|HOME|TMPDIR|LANG|LC_[A-Z]+|SHELL|USER|LOGNAME|PWD|IFS|ENV|BASH_ENV|CTO_[A-Z0-9_]*|LD_[A-Z0-9_]*|GIT_[A-Z0-9_]*|NODE_OPTIONS|NODE_PATH|PYTHON[A-Z0-9_]*|PERL5?LIB|PERL5?OPT|RUBYOPT|RUBYLIB|GCONV_PATH|PROMPT_COMMAND|SHELLOPTS|BASHOPTS|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy)$/;

export const BackendConfig = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
    // Half a surrogate pair (a `\ud800` escape) is no character: what runs, and what the enablement
    // binds by digest, would differ from what the file shows once written out as UTF-8.
    description: z.string().refine(wellFormed, WHOLE_CHARACTERS).default(''),
    /** argv, run without a shell; the harness resolves relative paths against the ledger dir. */
    command: z.array(z.string().min(1).refine(wellFormed, WHOLE_CHARACTERS)).min(1),
    /** A kill switch: false means it can never be activated, whatever the ledger says. */
    enabled: z.boolean().default(true),
    eligibleRisks: z.array(z.enum(['low', 'medium', 'high'])).min(1).default(['low']),
    /** 'none', or the exact hosts reachable through the harness's filtering proxy. */
    // Neither form (`None`, a list of hosts) was told only "Invalid input": the two forms are named.
    network: z
      .union([z.literal('none'), z.object({ allow: z.array(host).min(1) }).strict()], {
        error: (issue) => (issue.code === 'invalid_union' ? 'none, or { allow: [host:port, ...] } (exact hosts)' : undefined),
      })
      .default('none'),
    /** Names of environment variables passed through to the backend; values never reach the ledger. */
    secrets: z
      .array(
        z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name in capitals')
          .refine((name) => !RESERVED_SECRET.test(name), 'a name the harness sets or that changes how programs run (PATH, HOME, CTO_*, LD_*, GIT_*, ...)'),
      )
      .default([]),
    /**
     * Absolute paths the backend may read although they lie in a hidden place (an agent installed
     * under a home directory, say). Optional without a default, so entries without it keep their digest.
     */
    readOnlyPaths: z.array(z.string().refine((p) => p.startsWith('/'), 'an absolute path').refine(wellFormed, WHOLE_CHARACTERS)).optional(),
    /**
     * Caps for every process a run starts (setup, backend, validation), enforced by cgroups where the
     * machine has them; each defaults (4096 processes; half the RAM, at most 8 GiB). Optional, as above.
     */
    limits: z
      .object({
        processes: z.number().int().min(16).max(4_194_304).optional(),
        // at most 1 PiB: a larger cap is no cap, and past 2^63 bytes the kernel refuses it (EINVAL), which ran every step uncapped
        memoryMiB: z.number().int().min(64).max(1 << 30).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type BackendConfig = z.infer<typeof BackendConfig>;

export const LedgerConfig = z
  .object({
    backends: z.array(BackendConfig).default([]),
  })
  .strict();
export type LedgerConfig = z.infer<typeof LedgerConfig>;

export const CONFIG_TEMPLATE = `# cto-ledger configuration.
# Backends are the programs that do the coding work. Declaring one here does not activate it:
# runtime default activation is false. Activate with \`cto-ledger backend enable ID\` (recorded on the
# ledger, bound to this entry's digest: edit the entry and it is inactive until enabled again).
backends: []
#  - id: my-agent
#    description: an agent CLI
#    command: [my-agent, --print]   # argv, no shell
#    enabled: true                  # false is a kill switch
#    eligibleRisks: [low]
#    network: none                  # or: { allow: [api.example.com:443] }
#    secrets: [EXAMPLE_API_KEY]     # passed by name; values are never recorded
#    readOnlyPaths: [/home/me/agent] # homes and the ledger are hidden from backends; list what it needs
#    limits: { processes: 4096, memoryMiB: 4096 } # per step, enforced by cgroups where available
`;

/** Far more than any list of backends; a contract is capped the same. */
export const MAX_CONFIG_BYTES = 1 << 20;

/** The YAML parsed with its places kept (for the line of a field found wrong), each map's keys unique. */
function parseUniqueKeys(file: string, text: string): ReturnType<typeof parseKeepingPlaces> {
  const parsed = parseKeepingPlaces(text);
  const { duplicate } = parsed;
  if (duplicate) throw new BadInput(`${file}:${duplicate.line}:${duplicate.col}: malformed YAML: Map keys must be unique (${JSON.stringify(duplicate.key)} is given twice)`);
  return parsed;
}

/**
 * Refuses a config.yaml that is a link to a missing file: a config meant to be there (moved, an
 * unmounted share). Read as "no config.yaml", every backend seemed undeclared and contracts were
 * refused for it; init failed on it with a bare ENOENT (exit 3).
 */
export function checkConfigLink(file: string): void {
  if (!existsSync(file) && lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) {
    throw new BadInput(`${file} is a symbolic link to ${readlinkSync(file)}, which does not exist: put the config there, or replace the link with the file`);
  }
}

export function loadConfig(file: string): LedgerConfig {
  if (!existsSync(file)) {
    checkConfigLink(file);
    return { backends: [] };
  }
  let parsed: ReturnType<typeof parseKeepingPlaces>;
  let value: unknown;
  try {
    const bytes = readRegularFile(file, MAX_CONFIG_BYTES, file, 'a config.yaml');
    // Strictly UTF-8: a byte decoded loosely to U+FFFD would change a command path or a secret's name.
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (err) {
      if (err instanceof TypeError) throw new BadInput(`${file}: not UTF-8 text (save it as UTF-8)`);
      throw err;
    }
    parsed = parseUniqueKeys(file, text);
    // In the try: an alias bomb (or an alias to no anchor) was a bare ReferenceError, exit 3, the file unnamed.
    value = parsed.toJS();
  } catch (err) {
    if (err instanceof BadInput) throw err;
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      // yaml's first line ends "at line 2, column 1:", its excerpt of the file cut off below: the prefix names the place.
      const first = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
      throw new BadInput(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: malformed YAML: ${first}`);
    }
    throw new BadInput(`${file}: cannot read: ${(err as Error).message}`);
  }
  // Named with the line of the field, as a contract's are: "backends.0.command.1" alone sent people
  // counting list entries.
  const checked = LedgerConfig.safeParse(value ?? {});
  if (!checked.success) throw new BadInput(`${file}${placeOfIssue(parsed.doc, parsed.lines, checked.error.issues[0]!)}: ${formatIssues(checked.error)}`);
  const ids = checked.data.backends.map((b) => b.id);
  const again = ids.findIndex((id, i) => ids.indexOf(id) !== i);
  if (again >= 0) {
    throw new BadInput(`${file}${placeOf(parsed.doc, parsed.lines, ['backends', again, 'id'])}: backend ${ids[again]} is declared twice`);
  }
  return checked.data;
}

/**
 * Why a backend id is not declared: not in config.yaml, or (`missingConfig`, the path) no config.yaml
 * at all, which a person looking for a typo in the file would never find.
 */
export function notDeclared(backendId: string, missingConfig?: string | null): string {
  return missingConfig
    ? `backend ${backendId} is not declared: config.yaml does not exist at ${missingConfig} (\`cto-ledger init\` writes a commented one; declare the backend there)`
    : `backend ${backendId} is not declared in config.yaml`;
}

/** The digest an enablement and a contract bind to: change the entry and the binding breaks. */
export function backendConfigDigest(backend: BackendConfig): string {
  return digestOf(backend);
}
