import { z } from 'zod';
import { Contract } from '../contract/schema.js';
import { GATE_IDS } from './gates.js';

// Every event type is declared once here; TypeScript types and validation derive from it.

/** Formats shared with the envelope's checks (envelope.ts), declared once. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

const sha = z.string().regex(SHA256_HEX, 'a sha256 hex digest');
const commit = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'a git commit id');
const isoTime = z.iso.datetime({ offset: true });
const ulid = z.string().regex(ULID, 'a ULID');
const gate = z.enum(GATE_IDS);

export const TargetAdmittedData = z
  .object({
    targetId: z.string(),
    path: z.string(),
    remoteUrl: z.string().nullable(),
    rootCommit: commit,
    head: commit,
    owner: z.string(),
    ownership: z.literal('owned'),
    criticality: z.literal('noncritical'),
    risk: z.literal('low'),
    admittedBy: z.string(),
    expiresAt: isoTime,
  })
  .strict();

export const TargetAdmissionRevokedData = z
  .object({ targetId: z.string(), revokedBy: z.string(), reason: z.string() })
  .strict();

export const BackendEnabledData = z
  .object({ backendId: z.string(), configDigest: sha, enabledBy: z.string(), note: z.string() })
  .strict();

export const BackendDisabledData = z
  .object({ backendId: z.string(), disabledBy: z.string(), reason: z.string() })
  .strict();

export const ContractAdmittedData = z
  .object({
    runId: ulid,
    contract: Contract,
    contractDigest: sha,
    source: z.object({ file: z.string(), format: z.enum(['yaml', 'json', 'markdown']) }).strict(),
    target: z
      .object({
        targetId: z.string(),
        admissionEventId: ulid,
        admissionHash: sha,
        rootCommit: commit,
        path: z.string(),
      })
      .strict(),
    backend: z
      .object({
        id: z.string(),
        configDigest: sha,
        /** What the backend may reach, shown to whoever approves: 'none' or the exact hosts listed. */
        network: z.union([z.literal('none'), z.object({ allow: z.array(z.string()) }).strict()]).optional(),
      })
      .strict(),
    admittedBy: z.string(),
  })
  .strict();

export const ApprovalRecordedData = z
  .object({
    decision: z.enum(['approved', 'denied']),
    operator: z.string(),
    contractDigest: sha,
    baseCommit: commit,
    expiresAt: isoTime,
    note: z.string(),
    /** The target admission it was decided under; a revocation after that admission voids it. Absent in events written before 0.2. */
    admissionEventId: ulid.optional(),
  })
  .strict();

export const ExecutionRefusedData = z
  .object({ gate, detail: z.string(), requestedBy: z.string() })
  .strict();

export const CommandRefusedData = z
  .object({ command: z.string(), gate, detail: z.string(), requestedBy: z.string() })
  .strict();

export const ExecutionStartedData = z
  .object({
    approvalEventId: ulid,
    baseCommit: commit,
    backendId: z.string(),
    isolation: z.enum(['bubblewrap', 'unshare', 'none']),
    startedBy: z.string(),
    /** The target admission it started under; a revocation after that admission bars acceptance. */
    admissionEventId: ulid.optional(),
  })
  .strict();

export const GateResult = z.object({ gate, ok: z.boolean(), detail: z.string() }).strict();

export const CaseExecutedData = z
  .object({
    backendId: z.string(),
    approvalEventId: ulid,
    baseCommit: commit,
    isolation: z.enum(['bubblewrap', 'unshare', 'none']),
    startedAt: isoTime,
    endedAt: isoTime,
    exit: z.object({ code: z.number().int().nullable(), signal: z.string().nullable(), timedOut: z.boolean() }).strict(),
    changedPaths: z.array(z.object({ path: z.string(), change: z.string() }).strict()),
    gateResults: z.array(GateResult),
    status: z.enum(['succeeded', 'failed-closed']),
    failedGate: gate.nullable(),
  })
  .strict();

export const Artifact = z.object({ name: z.string(), sha256: sha, size: z.number().int().nonnegative() }).strict();

export const EvidenceDigestedData = z
  .object({
    artifacts: z.array(Artifact).min(1),
    bundleDigest: sha,
    freshness: z
      .object({
        baseCommit: commit,
        /** null when no repository is left at the admitted path. */
        targetHead: commit.nullable(),
        streamVersion: z.number().int().nonnegative(),
        lastEventHash: sha,
        at: isoTime,
      })
      .strict(),
  })
  .strict();

export const OutcomeRecordedData = z
  .object({
    decision: z.enum(['accepted', 'rejected']),
    operator: z.string(),
    reason: z.string(),
    bundleDigest: sha.nullable(),
    gate: gate.nullable(),
  })
  .strict();

/** type -> { current schema version, data schema }. */
export const CATALOGUE = {
  TargetAdmitted: { schemaVersion: 1, data: TargetAdmittedData },
  TargetAdmissionRevoked: { schemaVersion: 1, data: TargetAdmissionRevokedData },
  BackendEnabled: { schemaVersion: 1, data: BackendEnabledData },
  BackendDisabled: { schemaVersion: 1, data: BackendDisabledData },
  ContractAdmitted: { schemaVersion: 1, data: ContractAdmittedData },
  // v2 adds admissionEventId; v1 events (without it) are still read, and judged by clock times.
  ApprovalRecorded: { schemaVersion: 2, data: ApprovalRecordedData },
  ExecutionRefused: { schemaVersion: 1, data: ExecutionRefusedData },
  CommandRefused: { schemaVersion: 1, data: CommandRefusedData },
  // v2 adds admissionEventId, as ApprovalRecorded.
  ExecutionStarted: { schemaVersion: 2, data: ExecutionStartedData },
  CaseExecuted: { schemaVersion: 1, data: CaseExecutedData },
  EvidenceDigested: { schemaVersion: 1, data: EvidenceDigestedData },
  OutcomeRecorded: { schemaVersion: 1, data: OutcomeRecordedData },
} as const;

type Catalogue = typeof CATALOGUE;
export type EventType = keyof Catalogue;

export type EventData<T extends EventType> = z.infer<Catalogue[T]['data']>;

/** The part of an event the writer chooses; the ledger adds id, version, hashes and time. */
export type EventDraft = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];
