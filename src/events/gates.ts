// Stable gate ids (DESIGN.md): used in events, errors, tests and docs.
export const GATE_IDS = [
  'contract-invalid',
  'target-admission-missing',
  'target-admission-stale',
  'backend-ineligible',
  'approval-missing',
  'approval-denied',
  'approval-mismatch',
  'approval-expired',
  'approval-consumed',
  'start-tree-dirty',
  'isolation-unavailable',
  'path-disallowed',
  'forbidden-action',
  'validation-failed',
  'validation-missing',
  'provider-failure',
  'timeout',
  'end-tree-dirty',
  'evidence-missing',
  'evidence-stale',
  'outcome-missing',
] as const;

export type GateId = (typeof GATE_IDS)[number];
