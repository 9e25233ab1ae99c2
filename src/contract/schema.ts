import { z } from 'zod';
import { wellFormed } from '../events/hashing.js';

// Forbidden in every contract; a contract may add to this set, never remove from it.
export const DEFAULT_FORBIDDEN_ACTIONS = [
  'push',
  'merge',
  'deploy',
  'close',
  'pr-open',
  'issue-close',
  'publish',
  'credential-change',
  'infra-mutation',
] as const;

// Control characters in what is printed back to terminals and logs could forge lines or colours:
// none in one-line fields, and only newlines and tabs in prose.
const ONE_LINE = /^[^\u0000-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]*$/;
const PROSE = /^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]*$/;
// Half of a UTF-16 surrogate pair alone, as a JSON or YAML escape (`\ud800`) can write it: no character.
// Written out as UTF-8 (the brief handed to the backend, the terminal) it becomes U+FFFD, so two
// contracts of different digests read the same, neither as it was digested.
export const WHOLE_CHARACTERS = 'a lone surrogate escape (\\ud800-\\udfff) is no character: write the character itself';
const nonEmpty = z.string().trim().min(1).regex(ONE_LINE, 'one line of text, without control characters').refine(wellFormed, WHOLE_CHARACTERS);
const proseText = z.string().trim().regex(PROSE, 'text without control characters other than newlines and tabs').refine(wellFormed, WHOLE_CHARACTERS);
const prose = proseText.min(1);

/**
 * Why an allowedPaths entry can never match a path the harness judges (repository-relative, `/`
 * between segments, as git lists them), or null. Checks only: the entry is kept as written, so the
 * digest of every contract admitted before is unchanged.
 */
export function unmatchablePath(entry: string): string | null {
  if (entry === '') return 'is empty';
  if (entry.includes('\\')) return 'has a backslash: write paths with / between segments (a Windows path never matches; [*] matches a literal *)';
  if (entry.startsWith('/')) return 'is absolute: allowed paths are relative to the repository root';
  if (entry.split('/').includes('..')) return 'has a .. segment: allowed paths lie inside the repository';
  if (entry.endsWith('/')) return 'ends with /: git lists files, never a directory (write dir/** for everything under it)';
  if (entry.includes('//')) return 'has an empty segment (//): no path git lists has one';
  if (entry.split('/').slice(1).includes('.')) return 'has a . segment after the first: no path git lists has one';
  return null;
}

export const ValidationSpec = z
  .object({
    command: nonEmpty,
    timeoutSeconds: z.number().int().positive().max(86_400).default(600),
  })
  .strict();

export const Limits = z
  .object({
    backendSeconds: z.number().int().positive().max(86_400).default(900),
    outcomeDeadlineHours: z.number().positive().max(24 * 90).default(72),
  })
  .strict();

/** The contract as the operator writes it (YAML, JSON, or Markdown front matter + body as brief). */
export const ContractInput = z
  .object({
    title: nonEmpty.max(200),
    workItem: z
      .string()
      .regex(/^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-\d+$/, 'a work item id such as CTO-WORK-049')
      .optional(),
    target: nonEmpty,
    backend: nonEmpty,
    brief: prose,
    references: z.array(nonEmpty).min(1, 'name the PRD or issue the task comes from'),
    architectureNotes: proseText.optional(),
    allowedPaths: z
      .array(
        // Not nonEmpty: an empty entry is told as such, once, below.
        z.string().trim().regex(ONE_LINE, 'one line of text, without control characters').refine(wellFormed, WHOLE_CHARACTERS).superRefine((entry, ctx) => {
          const why = unmatchablePath(entry);
          if (why) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} ${why}` });
        }),
      )
      .min(1),
    forbiddenActions: z.array(nonEmpty).default([]),
    successCriteria: z.array(prose).min(1),
    validation: ValidationSpec.optional(),
    noTestRationale: prose.optional(),
    rollback: prose,
    isolation: z.enum(['required', 'best-effort']).default('required'),
    setup: ValidationSpec.optional(),
    limits: Limits.default({ backendSeconds: 900, outcomeDeadlineHours: 72 }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.validation && !c.noTestRationale) {
      ctx.addIssue({
        code: 'custom',
        path: ['validation'],
        message: 'name a validation command, or give an explicit noTestRationale',
      });
    }
    if (c.validation && c.noTestRationale) {
      ctx.addIssue({
        code: 'custom',
        path: ['noTestRationale'],
        message: 'give a validation command or a noTestRationale, not both',
      });
    }
  });

/** The contract as admitted: defaults applied, forbidden actions merged and sorted. */
export const Contract = z
  .object({
    title: z.string(),
    workItem: z.string().optional(),
    target: z.string(),
    backend: z.string(),
    brief: z.string(),
    references: z.array(z.string()),
    architectureNotes: z.string().optional(),
    allowedPaths: z.array(z.string()),
    forbiddenActions: z.array(z.string()),
    successCriteria: z.array(z.string()),
    validation: z.object({ command: z.string(), timeoutSeconds: z.number() }).strict().optional(),
    noTestRationale: z.string().optional(),
    rollback: z.string(),
    isolation: z.enum(['required', 'best-effort']),
    setup: z.object({ command: z.string(), timeoutSeconds: z.number() }).strict().optional(),
    limits: z.object({ backendSeconds: z.number(), outcomeDeadlineHours: z.number() }).strict(),
  })
  .strict();

export type Contract = z.infer<typeof Contract>;

export function normalizeContract(input: z.infer<typeof ContractInput>): Contract {
  const forbidden = new Set<string>([...DEFAULT_FORBIDDEN_ACTIONS, ...input.forbiddenActions]);
  // Through JSON so absent optional fields carry no `undefined` into the digest.
  return JSON.parse(JSON.stringify({ ...input, forbiddenActions: [...forbidden].sort() })) as Contract;
}
