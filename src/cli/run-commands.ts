import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { admitContract } from '../../commands/admit-contract.js';
import { loadRun, recordApproval } from '../../commands/record-approval.js';
import { recordOutcome } from '../../commands/record-outcome.js';
import { sweep } from '../../commands/sweep.js';
import { executeRun } from '../harness/execute.js';
import { executionLiveness, forgetDeadExecution } from '../harness/liveness.js';
import { renderRunFiles, renderRunState, RUN_FILES, writeRunFiles } from '../../projections/run-files.js';
import { listEntry, type RunListEntry } from '../../projections/run-list.js';
import { readFoldedRuns, type FoldedRun } from '../../projections/projection-db.js';
import { positionsFollowOn, PROJECTION_FILES, streamLinks } from '../../projections/runner.js';
import { loadContract } from '../contract/load.js';
import { foldRun, runStream, type RunState } from '../domain/run.js';
import { approvalStanding, foldTarget, targetStream, type ApprovalStanding, type TargetState } from '../domain/target.js';
import { BadInput, LedgerDamaged, Refused } from '../errors.js';
import { readRegularFile, readUpTo } from '../read-file.js';
import { exitInterrupted, whileInterruptible } from './interrupt.js';
import type { LedgerEvent, RecordedEvent } from '../events/envelope.js';
import { ledgerPaths, type Ledger } from '../ledger/ledger.js';
import { materializeRunFiles } from '../ledger/projections.js';
import { type CliContext } from './context.js';
import { digestArg, dirToMake, liesWithin, lineOfText, operatorName, positiveNumber, runIdArg } from './options.js';
import { json, printable, table } from './output.js';

const REPLAY_FILES: readonly string[] = Object.values(RUN_FILES);

/** Every run's list entry, folded from its stream (chain-checked), in run id order as runs.json has them. */
async function foldRunList(ledger: Ledger): Promise<RunListEntry[]> {
  const entries: RunListEntry[] = [];
  for (const tail of await ledger.store.streamTails()) {
    if (!tail.stream.startsWith('run-')) continue;
    const runId = tail.stream.slice(4);
    entries.push(listEntry(foldRun(runId, await ledger.store.readStream(tail.stream))));
  }
  return entries.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
}

function networkText(network: 'none' | { allow: string[] } | null): string {
  return !network || network === 'none' ? 'none' : `only ${network.allow.join(', ')}`;
}

/** One line saying what an event records, for a terminal: control characters escaped. */
function describeEvent(e: LedgerEvent): string {
  return printable(describeData(e));
}

/** What an event records, in words (every type: the compiler asks for a new one here). */
function describeData(e: LedgerEvent): string {
  switch (e.type) {
    case 'TargetAdmitted':
      return `${e.data.targetId} at ${e.data.path}, head ${e.data.head.slice(0, 12)}, owner ${e.data.owner}, admitted by ${e.data.admittedBy} until ${e.data.expiresAt}`;
    case 'TargetAdmissionRevoked':
      return `${e.data.targetId} revoked by ${e.data.revokedBy}: ${e.data.reason}`;
    case 'BackendEnabled':
      return `${e.data.backendId} enabled by ${e.data.enabledBy} (config ${e.data.configDigest.slice(0, 12)})${e.data.note ? `: ${e.data.note}` : ''}`;
    case 'BackendDisabled':
      return `${e.data.backendId} disabled by ${e.data.disabledBy}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'ContractAdmitted':
      return `${JSON.stringify(e.data.contract.title)} (digest ${e.data.contractDigest.slice(0, 12)}, backend ${e.data.backend.id}, network ${networkText(e.data.backend.network ?? 'none')})`;
    case 'ApprovalRecorded':
      return e.data.decision === 'approved'
        ? `approved by ${e.data.operator}, base ${e.data.baseCommit.slice(0, 12)}, until ${e.data.expiresAt}`
        : `denied by ${e.data.operator}${e.data.note ? `: ${e.data.note}` : ''}`;
    case 'CommandRefused':
    case 'ExecutionRefused':
      return `refused by gate ${e.data.gate}: ${e.data.detail}`;
    case 'ExecutionStarted':
      return `started by ${e.data.startedBy}: backend ${e.data.backendId} at ${e.data.baseCommit.slice(0, 12)}, isolation ${e.data.isolation}`;
    case 'CaseExecuted': {
      const exit = e.data.exit.timedOut ? 'timed out' : e.data.exit.signal ? `killed by ${e.data.exit.signal}` : `exit ${e.data.exit.code}`;
      return `${e.data.status}${e.data.failedGate ? ` (gate ${e.data.failedGate})` : ''}: ${exit}, ${e.data.changedPaths.length} path(s) changed, isolation ${e.data.isolation}`;
    }
    case 'EvidenceDigested':
      return `bundle ${e.data.bundleDigest.slice(0, 12)}: ${e.data.artifacts.length} artifact(s)`;
    case 'OutcomeRecorded':
      return `${e.data.decision} by ${e.data.operator}: ${e.data.reason}`;
    default: {
      const unknown: never = e;
      return String((unknown as { type: string }).type);
    }
  }
}


const HARNESS_STATE = { alive: 'running', gone: 'gone', elsewhere: 'elsewhere', missing: 'unknown' } as const;
const HARNESS_TEXT: Record<string, string> = {
  none: '',
  unknown: ' (no harness marker: cannot tell whether a harness is running it)',
  running: ' (a harness on this machine is running it)',
  elsewhere: ' (started by a harness on another host)',
  gone: ' (no harness is running it: it was killed or crashed; its approval is spent, reject it with `outcome RUN --reject`)',
};

const STANDING_TEXT: Record<ApprovalStanding, string> = {
  usable: '',
  expired: ' (expired: approve again)',
  'voided-by-revocation': ' (void: the target was revoked after it; approve again)',
  'target-not-admitted': " (the target's admission is not current)",
  'base-moved': " (the target's HEAD is no longer the approved base: execute refuses it, approval-mismatch; approve again)",
};

/**
 * A run's approval as `status RUN` shows it. A denial has no lifetime (`deny` refuses
 * `--expires-hours`), though its event carries the default's date: shown "until" it, it read as a
 * denial that would lapse.
 */
function approvalText(a: NonNullable<RunState['approval']>, standing: ApprovalStanding | null | undefined): string {
  if (a.decision === 'denied') return `denied by ${a.operator}${a.note ? `: ${a.note}` : ''}`;
  return `${a.decision} by ${a.operator}, base ${a.baseCommit}, until ${a.expiresAt}${STANDING_TEXT[standing ?? 'usable']}`;
}

/**
 * An approval usable as far as the log can tell still binds the target's HEAD, which only the
 * repository knows: moved since, execute refuses it (approval-mismatch). `heads` caches one read per path.
 */
async function withBase(
  ledger: Ledger,
  standing: ApprovalStanding,
  approval: { baseCommit: string },
  targetPath: string | null,
  heads: Map<string, Promise<string | null>> = new Map(),
): Promise<ApprovalStanding> {
  if (standing !== 'usable' || !targetPath) return standing;
  if (!heads.has(targetPath)) heads.set(targetPath, ledger.inspectRepo(targetPath).then((f) => f.head, () => null));
  const head = await heads.get(targetPath)!;
  return head !== null && head !== approval.baseCommit ? 'base-moved' : standing;
}

/**
 * The run list as the projections hold it. One that is not a list (edited, or a directory where the file
 * goes) was told as JSON.parse's or read's bare words ("EISDIR: illegal operation on a directory, read"),
 * naming no file: named, with what puts it right. Other failures (a disk error) are left as they are.
 */
function readRunList(file: string): RunListEntry[] {
  let list: unknown;
  try {
    // Not blocking on a FIFO where runs.json goes: status hung on it for good.
    list = JSON.parse(readRegularFile(file, Number.MAX_SAFE_INTEGER, file, 'the run list', (m) => new LedgerDamaged(`${m}; cto-ledger rebuild puts it right`)).toString('utf8'));
  } catch (err) {
    if (!(err instanceof SyntaxError) && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
    list = err;
  }
  if (Array.isArray(list)) return list as RunListEntry[];
  const why = list instanceof SyntaxError ? `not JSON (${list.message})` : list instanceof Error ? 'a directory, not a file' : 'not a list of runs';
  throw new LedgerDamaged(`${file}: the run list is ${why}: it was changed outside cto-ledger; \`cto-ledger health\` compares the projections with the log, \`cto-ledger rebuild\` folds them afresh`);
}

/** Every run's folded place, or undefined where the projections cannot be read (loadRun then asks run by run). */
function foldedRuns(file: string): Map<string, FoldedRun> | undefined {
  try {
    return readFoldedRuns(file);
  } catch {
    return undefined;
  }
}

/**
 * Which of a run's replay paths (relative to the ledger dir) a read-only `status RUN` may not name: a
 * file that is not there, or whose bytes are not those its stream renders now.
 */
function notCurrent(ledgerDir: string, runId: string, events: readonly LedgerEvent[]): (path: string) => boolean {
  const rendered = renderRunFiles(runId, events);
  return (path) => {
    const file = join(ledgerDir, path);
    if (!existsSync(file)) return true;
    const want = rendered[basename(path)];
    if (want === undefined) return false; // the dir: named when a file in it is
    try {
      const got = readUpTo(file, Buffer.byteLength(want) + 1);
      return got.kind !== null || !got.bytes.equals(Buffer.from(want));
    } catch {
      return true;
    }
  };
}

export function registerRunCommands(program: Command, ctx: CliContext): void {
  const { output } = ctx;
  const contract = program.command('contract').description('validate and admit task contracts (YAML, JSON, or Markdown with front matter)');
  contract
    .command('validate <file>')
    .description('check a contract file without touching the ledger; prints its digest')
    .option('--json', 'machine-readable output')
    .action((file: string, opts: { json?: boolean }) => {
      const loaded = loadContract(lineOfText('the contract file')(file));
      if (opts.json) output.out(json(loaded));
      else output.out(`valid contract ${JSON.stringify(loaded.contract.title)} (${loaded.format}), digest ${loaded.contractDigest}`);
    });
  contract
    .command('admit <file>')
    .description('admit a contract as a new run; prints the run id')
    .option('--by <operator>', 'operator admitting it')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { by?: string; json?: boolean }) => {
      const loaded = loadContract(lineOfText('the contract file')(file));
      const event = await ctx.withLedger((ledger) => admitContract(ledger, { file: resolve(file), loaded, admittedBy: operatorName(opts.by) }));
      if (event.type !== 'ContractAdmitted') throw new Error('unexpected event');
      if (opts.json) output.out(json({ runId: event.data.runId, contractDigest: event.data.contractDigest, event }));
      else output.out(event.data.runId);
    });

  for (const decision of ['approved', 'denied'] as const) {
    const command = program
      .command(`${decision === 'approved' ? 'approve' : 'deny'} <run>`)
      .description(decision === 'approved' ? "approve a run: binds the contract digest and the target's HEAD now" : 'deny a run')
      .option('--by <operator>', 'operator deciding')
      .option('--note <text>', 'note', lineOfText('--note', { allowEmpty: true }), '')
      .option('--digest <sha256>', 'the contract digest you reviewed (refused if the run holds another)', digestArg);
    // A lifetime is an approval's: a denial has none, so `deny` neither lists nor takes it.
    if (decision === 'approved') command.option('--expires-hours <hours>', 'approval lifetime', positiveNumber('--expires-hours', 720), 24);
    else {
      command.addOption(
        new Option('--expires-hours <hours>').hideHelp().argParser(() => {
          throw new BadInput('--expires-hours is the lifetime of an approval: a denial has none (give it to `approve`)');
        }),
      );
    }
    command
      .option('--json', 'machine-readable output')
      .action(async (typedRunId: string, opts: { by?: string; note: string; digest?: string; expiresHours?: number; json?: boolean }) => {
      const runId = runIdArg(typedRunId);
        const event = await ctx.withLedger((ledger) =>
          recordApproval(ledger, {
            runId,
            decision,
            operator: operatorName(opts.by),
            note: opts.note,
            expiresInHours: opts.expiresHours ?? 24,
            ...(opts.digest ? { contractDigest: opts.digest } : {}),
          }),
        );
        output.out(opts.json ? json(event) : `run ${runId}: ${describeEvent(event)}`);
      });
  }

  program
    .command('execute <run>')
    .description('run an approved case through the harness: gates, sandboxed backend, checks, validation, evidence')
    .option('--by <operator>', 'operator starting it')
    .option('--json', 'machine-readable output')
    .action(async (typedRunId: string, opts: { by?: string; json?: boolean }) => {
      const runId = runIdArg(typedRunId);
      // Ctrl-C (or TERM) stops the backend and records the run failed closed, evidenced, its worktree
      // removed; without this the process died with the run left executing and its worktree registered
      // in the operator's repository. A second one quits at once (the default action).
      const interrupt = new AbortController();
      const stop = (signal: NodeJS.Signals) => {
        output.err(`execute: ${signal}: stopping the backend and recording run ${runId} failed closed (${signal} again quits at once)`);
        interrupt.abort(signal);
      };
      const result = await whileInterruptible(stop, () =>
        ctx.withLedger((ledger) =>
          executeRun(ledger, runId, { by: operatorName(opts.by), signal: interrupt.signal, onPhase: (p) => (opts.json ? undefined : output.err(`execute: ${p}...`)) }),
        ),
      ).catch((err: unknown) => {
        if (!interrupt.signal.aborted) throw err;
        const message = err instanceof Error ? err.message : String(err);
        output.err(`execute: ${message}`);
        return exitInterrupted(output, interrupt.signal.reason as NodeJS.Signals, message);
      });
      if (opts.json) output.out(json(result));
      else {
        output.out(
          [
            `run ${runId}: ${result.status}${result.failedGate ? ` (gate ${result.failedGate})` : ''}, isolation ${result.isolation}`,
            `evidence  ${result.evidenceDir} (bundle ${result.bundleDigest.slice(0, 16)})`,
          ].join('\n'),
        );
      }
      if (result.failedGate) throw new Refused(result.failedGate, `run ${runId} failed closed; see ${result.evidenceDir}/report.md`);
    });

  program
    .command('sweep')
    .description('close runs past their outcome deadline, rejected by the outcome-missing gate')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const closed = await ctx.withLedger(async (ledger) => {
        const runs = await sweep(ledger);
        for (const run of runs) forgetDeadExecution(ledger.dir, run);
        return runs;
      });
      output.out(opts.json ? json({ closed }) : closed.length ? `closed ${closed.length} overdue run(s): ${closed.join(', ')}` : 'no overdue runs');
    });

  program
    .command('outcome <run>')
    .description('accept or reject a run; acceptance needs digested evidence that re-verifies now')
    .option('--accept', 'accept the change')
    .option('--reject', 'reject the change')
    .option('--by <operator>', 'operator deciding')
    .requiredOption('--reason <text>', 'why', lineOfText('--reason'))
    .option('--json', 'machine-readable output')
    .action(async (typedRunId: string, opts: { accept?: boolean; reject?: boolean; by?: string; reason: string; json?: boolean }) => {
      const runId = runIdArg(typedRunId);
      if (Boolean(opts.accept) === Boolean(opts.reject)) throw new BadInput('give exactly one of --accept or --reject');
      const event = await ctx.withLedger(async (ledger) => {
        const recorded = await recordOutcome(ledger, { runId, decision: opts.accept ? 'accepted' : 'rejected', operator: operatorName(opts.by), reason: opts.reason });
        forgetDeadExecution(ledger.dir, runId);
        return recorded;
      });
      output.out(opts.json ? json(event) : `run ${runId}: ${describeEvent(event)}`);
    });

  program
    .command('status [run]')
    .description('one run in full, or every run with its status and the gate of its last refusal')
    .option('--json', 'machine-readable output')
    .action(async (typedRunId: string | undefined, opts: { json?: boolean }) => {
      const runId = typedRunId === undefined ? undefined : runIdArg(typedRunId);
      const projections = ledgerPaths(ctx.ledgerDir()).projections;
      // An empty argument (an unset variable in a script) asks about no run: not the list of all.
      if (runId === '') throw new BadInput('the run id is empty (omit it to list every run)');
      if (runId) {
        const { state, harness, standing, evidence, unwritten } = await ctx.withLedger(async (ledger) => {
          const loaded = await loadRun(ledger, runId);
          if (!ledger.readOnly) await materializeRunFiles(ledger, runId);
          // Only for a run still executing: is a harness on this machine still at it?
          const liveness = loaded.status === 'executing' ? executionLiveness(ledger.dir, runId) : null;
          // Only for a run approved and not yet started: could its approval still start it?
          const approval = loaded.status === 'approved' ? loaded.approval : null;
          const target = approval ? foldTarget(loaded.targetId!, await ledger.store.readStream(targetStream(loaded.targetId!))) : null;
          return {
            state: loaded,
            harness: liveness === null ? null : HARNESS_STATE[liveness],
            standing: approval && target ? await withBase(ledger, approvalStanding(approval, target, ledger.now()), approval, loaded.targetPath) : null,
            // The bundle is there once an execution wrote it: not a path to replay from before.
            evidence: existsSync(join(ledger.dir, 'evidence', runId)),
            // Read-only, nothing is written: a replay file no earlier command wrote is not there to name,
            // and one written before the run's later events (projections behind the log: a command killed
            // between its append and its fold, a copy of a ledger in use) tells another state than this.
            unwritten: ledger.readOnly ? notCurrent(ledger.dir, runId, await ledger.store.readStream(runStream(runId))) : () => false,
          };
        });
        const text = renderRunState(state);
        const extra = { ...(harness ? { harness } : {}), ...(standing ? { approvalStanding: standing } : {}) };
        const run = JSON.parse(text) as ReturnType<typeof foldRun> & { replay: Record<string, string> };
        if (!evidence) delete run.replay.evidence;
        const absent = Object.entries(run.replay).filter(([k, v]) => k !== 'evidence' && unwritten(v)).map(([k]) => k);
        for (const k of absent) delete run.replay[k];
        if (Object.keys(run.replay).every((k) => k === 'dir' || k === 'evidence')) delete run.replay.dir;
        if (opts.json) return output.out(Object.keys(extra).length || !evidence || absent.length ? JSON.stringify({ ...run, ...extra }, null, 2) : text.trimEnd());
        output.out(
          [
            `run         ${run.runId}${run.contract?.workItem ? ` [${run.contract.workItem}]` : ''}`,
            `title       ${run.contract?.title ?? '-'}`,
            `status      ${run.status}${HARNESS_TEXT[harness ?? 'none']}`,
            `target      ${run.targetId} (${run.targetPath})`,
            `backend     ${run.backendId} (network: ${networkText(run.backendNetwork)})`,
            `contract    ${run.contractDigest}`,
            `approval    ${run.approval ? approvalText(run.approval, standing) : 'none'}`,
            `refused     ${run.lastRefusal ? `gate ${run.lastRefusal.gate} (${run.lastRefusal.command}): ${run.lastRefusal.detail}` : '-'}`,
            `outcome     ${run.outcome ? `${run.outcome.decision} by ${run.outcome.operator}: ${run.outcome.reason}` : run.outcomeDeadline ? `due by ${run.outcomeDeadline}` : '-'}`,
            ...Object.entries(run.replay).filter(([k]) => k !== 'dir').map(([, v], i) => `${i === 0 ? 'replay' : ''}`.padEnd(12) + v),
          ]
            .map(printable)
            .join('\n'),
        );
        return;
      }
      // Brings the projections up to date and reads their list; a read-only ledger's list is folded
      // from the log itself (nothing can be written, and what was written may be stale).
      const folded = await ctx.withLedger(async (ledger) => (ledger.readOnly ? foldRunList(ledger) : null));
      const entries = folded ?? readRunList(join(projections, PROJECTION_FILES.runs));
      // The projections are folds of one run's stream each: an approval a revocation voided since
      // still reads "approved" there. Told here, from the targets' streams.
      const approved = entries.filter((e) => e.status === 'approved');
      const standings = !approved.length ? new Map<string, ApprovalStanding>() : await ctx.withLedger(async (ledger) => {
        // How far the projections folded each run, read once for all (loadRun would open them once a run).
        const folded = foldedRuns(join(projections, PROJECTION_FILES.db));
        const targets = new Map<string, TargetState>();
        for (const id of new Set(approved.map((e) => e.targetId).filter((id): id is string => !!id))) {
          targets.set(id, foldTarget(id, await ledger.store.readStream(targetStream(id))));
        }
        const standings = new Map<string, ApprovalStanding>();
        const heads = new Map<string, Promise<string | null>>();
        for (const e of approved) {
          const target = e.targetId ? targets.get(e.targetId) : undefined;
          const run = target ? await loadRun(ledger, e.runId, folded ? (folded.get(e.runId) ?? null) : undefined) : null;
          if (target && run?.approval) standings.set(e.runId, await withBase(ledger, approvalStanding(run.approval, target, ledger.now()), run.approval, run.targetPath, heads));
        }
        return standings;
      }, { refresh: false });
      const standingOf = (s: ApprovalStanding) => [...standings].filter(([, v]) => v === s).map(([runId]) => runId);
      const now = Date.now();
      const overdue = entries.filter((e) => e.outcomeDeadline && Date.parse(e.outcomeDeadline) < now && e.status !== 'denied');
      // The projections are folds of the log, the same whatever the hour; lapsed approvals are told here.
      const lapsed = new Set(entries.filter((e) => e.status === 'approved' && e.approvalExpiresAt && Date.parse(e.approvalExpiresAt) <= now).map((e) => e.runId));
      if (opts.json) {
        return output.out(
          json({ runs: entries, overdue: overdue.map((e) => e.runId), approvalExpired: [...lapsed], approvalVoided: standingOf('voided-by-revocation'), approvalTargetNotAdmitted: standingOf('target-not-admitted'), approvalBaseMoved: standingOf('base-moved') }),
        );
      }
      if (entries.length === 0) return output.out('no runs');
      const LIST_TEXT: Partial<Record<ApprovalStanding, string>> = { 'voided-by-revocation': ' (void)', 'target-not-admitted': ' (target not admitted)', 'base-moved': ' (base moved)' };
      const shown = (e: RunListEntry) => {
        const standing = standings.get(e.runId);
        return `${e.status}${(standing && LIST_TEXT[standing]) ?? (lapsed.has(e.runId) ? ' (expired)' : '')}`;
      };
      output.out(
        table([
          ['RUN', 'STATUS', 'LAST GATE', 'WORK ITEM', 'TITLE'],
          ...entries.map((e) => [e.runId, shown(e), e.lastRefusalGate ?? '-', e.workItem ?? '-', e.title ?? '-']),
        ]),
      );
      if (overdue.length) output.out(`\npast their outcome deadline (cto-ledger sweep closes them): ${overdue.map((e) => e.runId).join(', ')}`);
    });

  program
    .command('events')
    .description('the events of one stream (chain-checked) or of the whole log in global order')
    .option('--stream <stream>', 'one stream, e.g. run-<id> or target-<id>')
    .option('--after <position>', 'global position to start after (the whole log only)')
    .option('--json', 'one JSON object per line')
    .action(async (opts: { stream?: string; after?: string; json?: boolean }) => {
      // An empty --stream (an unset variable in a script) names no stream: not the whole log.
      if (opts.stream !== undefined && opts.stream.trim() === '') throw new BadInput(`--stream must name a stream, got ${opts.stream === '' ? 'an empty string' : 'a blank one'} (omit it to read the whole log)`);
      if (opts.stream !== undefined && opts.after !== undefined) throw new BadInput('--after reads the whole log from a position; a --stream is read whole, from version 0');
      // Digits only: an empty value (an unset variable in a script) is not position 0, the whole log
      // again, and 0x10 or 1e3 are no positions `events` prints.
      const after = Number(opts.after ?? '0');
      if (!/^\d+$/.test(opts.after ?? '0') || !Number.isSafeInteger(after)) throw new BadInput(`--after must be a position (a whole number), got ${JSON.stringify(opts.after)}`);
      await ctx.withLedger(
        async (ledger) => {
          const print = (r: { position: number; event: LedgerEvent }) =>
            output.out(
              opts.json
                ? JSON.stringify({ position: r.position, ...r.event })
                : `${r.position}\t${r.event.stream}@${r.event.version}\t${r.event.type}\t${r.event.recordedAt}\t${describeEvent(r.event)}`,
            );
          if (opts.stream !== undefined) {
            // run-<ULID>: the id in any case, as everywhere else.
            const stream = /^run-[0-9a-hjkmnp-tv-z]{26}$/i.test(opts.stream) ? `run-${opts.stream.slice(4).toUpperCase()}` : opts.stream;
            const recorded = await ledger.store.readStreamRecorded(stream);
            if (recorded.length === 0) throw new BadInput(`no stream ${opts.stream}`);
            recorded.forEach(print);
          } else {
            // Each event opens on its own (its hash, its columns), but a body edited with its hash
            // recomputed does too: it must also link to its stream's event before it (version and
            // prevHash), as a stream read and rebuild check, and the positions of a store that numbers
            // them 1, 2, 3... must follow on (a gap is a removed event). The first event of a stream
            // met after --after has no predecessor here to link to.
            const follows = positionsFollowOn(after);
            const links = streamLinks(after === 0);
            for await (const r of ledger.store.readAll({ after }) as AsyncIterable<RecordedEvent>) {
              if (ledger.store.densePositions) follows(r.position);
              links(r.event, r.position);
              print(r);
              await output.drained?.();
            }
          }
        },
        { refresh: false },
      );
    });

  program
    .command('replay <run>')
    .description("rebuild one run's projection files (run.json, events.normalized.jsonl, trace.jsonl) from its stream")
    .requiredOption('--out <dir>', 'where to write them', dirToMake('--out'))
    .option('--json', 'machine-readable output')
    .action(async (typedRunId: string, opts: { out: string; json?: boolean }) => {
      const runId = runIdArg(typedRunId);
      const out = resolve(opts.out);
      // Replay writes its three files into a dir of their own: never into the ledger (the evidence
      // bundle has files of the same names), never over other files of the user's.
      // One of its own names held by a dir or a link is no file it wrote either: found only on writing,
      // it failed after the other two files were replaced, leaving a dir of two runs' files.
      const foreign = existsSync(out)
        ? readdirSync(out, { withFileTypes: true })
            .filter((d) => !(REPLAY_FILES.includes(d.name) && d.isFile()))
            .map((d) => (REPLAY_FILES.includes(d.name) ? `${d.name} (not a regular file)` : d.name))
        : [];
      if (foreign.length) throw new BadInput(`--out ${out} holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}): replay writes into a new dir, or one it wrote before`);
      const events = await ctx.withLedger(
        async (ledger) => {
          if (liesWithin(out, ledger.dir)) throw new BadInput(`--out ${out} is inside the ledger dir ${resolve(ledger.dir)}: replay writes outside it`);
          await loadRun(ledger, runId);
          return ledger.store.readStream(runStream(runId));
        },
        { refresh: false },
      );
      const written = writeRunFiles(out, runId, events);
      output.out(opts.json ? json({ runId, events: events.length, files: written }) : `replayed ${events.length} events of run ${runId} into:\n${written.join('\n')}`);
    });
}
