import { existsSync } from 'node:fs';
import { backendConfigDigest, type BackendConfig } from '../src/config/config.js';
import type { LoadedContract } from '../src/contract/load.js';
import { backendEligibility, backendStream, foldBackend, type BackendActivation } from '../src/domain/backend.js';
import { runStream } from '../src/domain/run.js';
import { checkAdmission, foldTarget, targetStream, type TargetState } from '../src/domain/target.js';
import type { LedgerEvent } from '../src/events/envelope.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { newId } from '../src/ledger/new-event.js';
import { noRepository, unbornBranch } from '../src/target/repo.js';
import { accept, invalid, refuse, type Decision } from './decision.js';
import { runCommand } from './runner.js';

export type AdmitContract = { file: string; loaded: LoadedContract; admittedBy: string; runId: string };

export type AdmitContractFacts = {
  now: Date;
  target: TargetState;
  /** Root commit found at the admitted path now (null: no repository there any more). */
  repoRootCommit: string | null;
  /** When `repoRootCommit` is null for want of a commit on HEAD's branch, that branch. */
  unbornBranch?: string | null;
  backend: BackendConfig | undefined;
  activation: BackendActivation;
  /** The config.yaml path when there is no such file. */
  missingConfig?: string | null;
};

export function decideAdmitContract(runEvents: readonly LedgerEvent[], cmd: AdmitContract, facts: AdmitContractFacts): Decision {
  if (runEvents.length > 0) return invalid(`run ${cmd.runId} already exists`);
  const { contract, contractDigest, format } = cmd.loaded;
  const admission = checkAdmission(facts.target, facts.now, facts.repoRootCommit, facts.unbornBranch, 'contract admit');
  if (!admission.ok) return refuse(admission.gate, admission.detail);
  const configDigest = facts.backend ? backendConfigDigest(facts.backend) : null;
  const eligible = backendEligibility(contract.backend, facts.backend, configDigest, facts.activation, admission.admission.risk, facts.missingConfig);
  if (!eligible.ok) return refuse('backend-ineligible', eligible.detail);
  return accept({
    type: 'ContractAdmitted',
    data: {
      runId: cmd.runId,
      contract,
      contractDigest,
      source: { file: cmd.file, format },
      target: {
        targetId: contract.target,
        admissionEventId: admission.admission.eventId,
        admissionHash: admission.admission.hash,
        rootCommit: admission.admission.rootCommit,
        path: admission.admission.path,
      },
      backend: { id: contract.backend, configDigest: configDigest!, network: facts.backend!.network },
      admittedBy: cmd.admittedBy,
    },
  });
}

/** Admits a validated contract as a new run; returns the ContractAdmitted event (its runId is the run). */
export async function admitContract(ledger: Ledger, cmd: Omit<AdmitContract, 'runId'>): Promise<LedgerEvent> {
  const { contract } = cmd.loaded;
  const runId = newId();
  const target = foldTarget(contract.target, await ledger.store.readStream(targetStream(contract.target)));
  const repoRootCommit = target.admission ? await rootCommitAt(ledger, target.admission.path) : null;
  const facts: AdmitContractFacts = {
    now: ledger.now(),
    target,
    repoRootCommit,
    // No commit found: a repository still there, on a branch with none yet, is told apart from a missing one.
    unbornBranch: target.admission && repoRootCommit === null ? await unbornBranch(target.admission.path) : null,
    backend: ledger.config().backends.find((b) => b.id === contract.backend),
    activation: foldBackend(contract.backend, await ledger.store.readStream(backendStream(contract.backend))),
    missingConfig: existsSync(ledger.configFile) ? null : ledger.configFile,
  };
  const { appended } = await runCommand(ledger, {
    command: 'contract admit',
    stream: runStream(runId),
    actor: { kind: 'operator', id: cmd.admittedBy },
    correlationId: runId,
    decide: (events) => decideAdmitContract(events, { ...cmd, runId }, facts),
  });
  return appended[0]!;
}

/** The repository's root commit now, or null when the admitted path holds no repository any more. */
export async function rootCommitAt(ledger: Ledger, path: string): Promise<string | null> {
  return ledger.inspectRepo(path).then((r) => r.rootCommit, noRepository);
}
