import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { admitTarget } from '../../commands/admit-target.js';
import { revokeTarget } from '../../commands/revoke-target.js';
import { setBackend } from '../../commands/set-backend.js';
import { backendConfigDigest } from '../config/config.js';
import { backendEligibility, backendStream, foldBackend } from '../domain/backend.js';
import { checkAdmission, foldTarget, targetStream } from '../domain/target.js';
import { BadInput, LedgerDamaged, StoreUnavailable } from '../errors.js';
import { detectIsolation } from '../harness/isolation.js';
import { verifyArtifacts, verifyBundle, type ArtifactRef } from '../evidence/verify.js';
import { detectLimits } from '../harness/limits.js';
import { exitInterrupted, whileInterruptible } from './interrupt.js';
import { initLedger, ledgerPaths, type Ledger } from '../ledger/ledger.js';
import { projectionDifferences, projectionsFingerprint, projectionsMatch, rebuildAllProjections, removeOwnRebuild } from '../ledger/projections.js';
import { canWrite } from '../store/readable-copy.js';
import { readFoldedRuns, type FoldedRun } from '../../projections/projection-db.js';
import { PROJECTION_FILES } from '../../projections/runner.js';
import { backupStore, inspectStoreFile, readLedgerMeta } from '../store/sqlite.js';
import { type CliContext } from './context.js';
import { dirToMake, liesWithin, lineOfText, oneOf, operatorName, positiveNumber } from './options.js';
import { json, printable, table } from './output.js';

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'target';
}

/** Every backend declared or ever enabled, with whether it is active now and why not. */
export async function backendStatuses(ledger: Ledger) {
  const declared = ledger.config().backends;
  const onLedger = (await ledger.store.streamTails()).filter((t) => t.stream.startsWith('backend-')).map((t) => t.stream.slice(8));
  const ids = [...new Set([...declared.map((b) => b.id), ...onLedger])].sort();
  return Promise.all(
    ids.map(async (id) => {
      const config = declared.find((b) => b.id === id);
      const activation = foldBackend(id, await ledger.store.readStream(backendStream(id)));
      const eligibility = backendEligibility(id, config, config ? backendConfigDigest(config) : null, activation, 'low', existsSync(ledger.configFile) ? null : ledger.configFile);
      return {
        id,
        declared: Boolean(config),
        enabledInConfig: config?.enabled ?? false,
        enabledOnLedger: activation.enabled,
        active: eligibility.ok,
        reason: eligibility.ok ? null : eligibility.detail,
        command: config?.command ?? null,
        eligibleRisks: config?.eligibleRisks ?? [],
        network: config?.network ?? null,
        secrets: config?.secrets ?? [],
        changedBy: activation.changedBy,
        changedAt: activation.changedAt,
      };
    }),
  );
}

/** As `status RUN` says it: the run's stream no longer holds the event the projections folded last. */
function foldedRunLost(runId: string, holds: number, folded: number): string {
  return `run ${runId}: the ledger holds it up to version ${holds}, but the projections folded it to version ${folded}${holds >= folded ? ' with another event there' : ''}: its events were removed or rewritten outside cto-ledger`;
}

/**
 * Runs a health check again while the projections moved under it. Read-only, the projections are read
 * without their lock (it cannot be taken), and from a dir the user cannot write the log is read from a
 * copy made as it is opened: a writer folding meanwhile (an operator at work on the ledger an auditor
 * reads) leaves them differing from what was read, or past the copy's end, which is no damage. A
 * check that found problems while they moved is made again (up to 10 times in all); a changed ledger
 * tells the same the next time.
 */
async function whileProjectionsMove<T extends { problems: string[] }>(ctx: CliContext, program: Command, check: () => Promise<T>): Promise<T> {
  const paths = ledgerPaths(ctx.ledgerDir());
  const unlocked = program.opts<{ readOnly?: boolean }>().readOnly === true || (existsSync(paths.root) && !canWrite(paths.root));
  for (let attempt = 1; ; attempt++) {
    const before = unlocked ? projectionsFingerprint(paths.projections) : '';
    const report = await check();
    if (!unlocked || report.problems.length === 0 || projectionsFingerprint(paths.projections) === before) return report;
    if (attempt === 10) {
      report.problems.push(`the projections changed under every one of ${attempt} reads (another process is folding them): what differs above may be its work halfway, not damage; run health again when the ledger is quiet`);
      return report;
    }
    // A writer halfway through its fold (the store committed, the files next) is let finish.
    await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
  }
}

export function registerAdminCommands(program: Command, ctx: CliContext): void {
  const { output } = ctx;

  program
    .command('init')
    .description('create a ledger (SQLite store and config template) in the ledger directory')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      if (program.opts<{ readOnly?: boolean }>().readOnly) throw new StoreUnavailable('--read-only: init writes the ledger; nothing was written');
      // Named as the user gave it: a CTO_LEDGER_DIR with a newline was refused as "--ledger must be ...".
      const from = program.opts<{ ledger?: string }>().ledger !== undefined || !process.env.CTO_LEDGER_DIR ? '--ledger' : 'CTO_LEDGER_DIR';
      const result = await initLedger(dirToMake(from)(ctx.ledgerDir()));
      if (opts.json) output.out(json(result));
      else output.out(`${result.created ? 'created' : 'already a ledger:'} ${result.root}`);
      if (result.restoredTriggers.length > 0) {
        output.err(`cto-ledger: put back the append-only triggers someone had removed (${result.restoredTriggers.join(', ')}); check the ledger with \`cto-ledger health\``);
      }
    });

  const target = program.command('target').description('admit, list and revoke target repositories');
  target
    .command('admit <path>')
    .description('admit a local git repository for delegated work (owned, noncritical, low risk only)')
    .option('--id <id>', 'target id (default: the directory name)', lineOfText('--id', { identity: true }))
    .requiredOption('--owner <owner>', 'who owns the repository', lineOfText('--owner', { identity: true }))
    .option('--ownership <ownership>', 'owned | unowned | vendor', oneOf('--ownership', ['owned', 'unowned', 'vendor']), 'owned')
    .option('--criticality <criticality>', 'noncritical | critical', oneOf('--criticality', ['noncritical', 'critical']), 'noncritical')
    .option('--risk <risk>', 'low | medium | high', oneOf('--risk', ['low', 'medium', 'high']), 'low')
    .option('--expires-days <days>', 'admission lifetime in days', positiveNumber('--expires-days', 365), 7)
    .option('--by <operator>', 'operator admitting it')
    .option('--json', 'machine-readable output')
    .action(async (path: string, opts: Record<string, string | number | boolean | undefined>) => {
      // An empty path (an unset variable in a script) is no directory, not one named "".
      if (path.trim() === '') throw new BadInput(`the repository path must not be ${path === '' ? 'empty' : 'blank'}`);
      const targetId = String(opts.id ?? slug(basename(path)));
      if (!/^[a-z0-9][a-z0-9-]*$/.test(targetId)) throw new BadInput(`--id ${targetId}: use lowercase letters, digits and dashes`);
      const event = await ctx.withLedger((ledger) =>
        admitTarget(ledger, {
          path,
          targetId,
          owner: String(opts.owner),
          ownership: String(opts.ownership),
          criticality: String(opts.criticality),
          risk: String(opts.risk),
          expiresInDays: Number(opts.expiresDays),
          admittedBy: operatorName(opts.by as string | undefined),
        }),
      );
      if (opts.json) output.out(json(event));
      else if (event.type === 'TargetAdmitted') {
        output.out(printable(`admitted target ${targetId}: ${event.data.path} at ${event.data.head.slice(0, 12)} until ${event.data.expiresAt}`));
      }
    });
  target
    .command('list')
    .description('list targets and whether their admission is current')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const rows = await ctx.withLedger(
        async (ledger) => {
          const now = ledger.now();
          const streams = (await ledger.store.streamTails()).filter((t) => t.stream.startsWith('target-'));
          return Promise.all(
            streams.map(async (t) => {
              const id = t.stream.slice(7);
              const state = foldTarget(id, await ledger.store.readStream(t.stream));
              const check = checkAdmission(state, now);
              return { targetId: id, status: state.status, current: check.ok, gate: check.ok ? null : check.gate, detail: check.ok ? null : check.detail, admission: state.admission };
            }),
          );
        },
        { refresh: false },
      );
      if (opts.json) return output.out(json(rows));
      if (rows.length === 0) return output.out('no targets admitted');
      output.out(
        table([
          ['TARGET', 'STATUS', 'CURRENT', 'EXPIRES', 'PATH'],
          ...rows.map((r) => [r.targetId, r.status, r.current ? 'yes' : `no (${r.gate})`, r.admission?.expiresAt ?? '-', r.admission?.path ?? '-']),
        ]),
      );
    });
  target
    .command('revoke <id>')
    .description("revoke a target's admission")
    .requiredOption('--reason <text>', 'why', lineOfText('--reason'))
    .option('--by <operator>', 'operator revoking it')
    .option('--json', 'machine-readable output')
    .action(async (typedId: string, opts: { reason: string; by?: string; json?: boolean }) => {
      const id = lineOfText('the target id', { identity: true })(typedId);
      const event = await ctx.withLedger((ledger) => revokeTarget(ledger, { targetId: id, revokedBy: operatorName(opts.by), reason: opts.reason }));
      output.out(opts.json ? json(event) : `revoked target ${id}`);
    });

  const backend = program.command('backend').description('list, enable and disable case backends (declared in config.yaml)');
  backend
    .command('list')
    .description('declared backends and whether each is active')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const rows = await ctx.withLedger(backendStatuses, { refresh: false });
      if (opts.json) return output.out(json(rows));
      if (rows.length === 0) return output.out('no backends declared (see config.yaml); none is active by default');
      output.out(table([['BACKEND', 'ACTIVE', 'COMMAND', 'WHY NOT'], ...rows.map((r) => [r.id, r.active ? 'yes' : 'no', (r.command ?? []).join(' '), r.reason ?? ''])]));
    });
  for (const enable of [true, false]) {
    backend
      .command(`${enable ? 'enable' : 'disable'} <id>`)
      .description(enable ? 'activate a declared backend (recorded on the ledger, bound to its config entry)' : 'deactivate a backend')
      .option('--by <operator>', 'operator')
      .option('--note <text>', 'why', lineOfText('--note', { allowEmpty: true }), '')
      .option('--json', 'machine-readable output')
      .action(async (id: string, opts: { by?: string; note: string; json?: boolean }) => {
        lineOfText('the backend id', { identity: true })(id);
        const changed = await ctx.withLedger((ledger) => setBackend(ledger, { backendId: id, enable, by: operatorName(opts.by), note: opts.note }));
        if (opts.json) output.out(json({ backendId: id, enabled: enable, changed }));
        else output.out(`backend ${id} ${enable ? 'enabled' : 'disabled'}${changed ? '' : ' (no change)'}`);
      });
  }

  program
    .command('health')
    .description('store reachable, schema version, last position, every chain checked, isolation, active backends')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const report = await whileProjectionsMove(ctx, program, () => ctx
        .withLedger(
          async (ledger) => {
            const meta = readLedgerMeta(ledger.store);
            // The projections' checkpoint first: a writer may append and fold after, never before.
            const projections = await projectionsMatch(ledger);
            // And how far they folded each run: a stream re-linked from some event to its end, or cut
            // short, still links, but no longer holds the event the projections folded last.
            let folded = new Map<string, FoldedRun>();
            try {
              folded = readFoldedRuns(join(ledgerPaths(ledger.dir).projections, PROJECTION_FILES.db));
            } catch {
              // Unreadable projections are reported by projectionsMatch.
            }
            // Then every other read against one state of the log, so appends made meanwhile by other
            // processes (a ledger in use) can never look like a gap or a moved tail.
            const { tails, broken, lost, bundles, events, lastPosition, missing, file } = await ledger.store.inSnapshot(async () => {
              const tails = await ledger.store.streamTails();
              const broken: string[] = [];
              const lost: string[] = [];
              // Every run names the target admission it was admitted under by event id and hash: a
              // target stream re-linked from an edited admission on still links, but not to them.
              const admissions = new Map<string, string>();
              const readTargets = new Set<string>();
              const claims: Array<{ runStream: string; targetStream: string; eventId: string; hash: string }> = [];
              const bundles: Array<{ runId: string; artifacts: ArtifactRef[] }> = [];
              let events = 0;
              // Which positions the streams hold: on a store that numbers them 1, 2, 3..., those none
              // holds are events removed, named by position (their streams are gone with them).
              const lastPosition = await ledger.store.lastPosition();
              const held = ledger.store.densePositions ? new Uint8Array(lastPosition + 1) : null;
              for (const t of tails) {
                const run = t.stream.startsWith('run-') ? folded.get(t.stream.slice(4)) : undefined;
                if (run) folded.delete(t.stream.slice(4));
                try {
                  const recorded = await ledger.store.readStreamRecorded(t.stream);
                  const stream = recorded.map((r) => r.event);
                  if (held) for (const r of recorded) held[r.position] = 1;
                  events += stream.length;
                  if (stream[stream.length - 1]?.hash !== t.hash) broken.push(`${t.stream}: tail hash differs`);
                  if (run && stream[run.version]?.hash !== run.lastHash) lost.push(foldedRunLost(t.stream.slice(4), stream.length - 1, run.version));
                  if (t.stream.startsWith('target-')) {
                    readTargets.add(t.stream);
                    for (const e of stream) admissions.set(e.id, e.hash);
                  }
                  // The last evidence a run digested: its bundle and artifacts must still be those bytes.
                  const digested = [...stream].reverse().find((e) => e.type === 'EvidenceDigested');
                  if (digested?.type === 'EvidenceDigested') {
                    bundles.push({ runId: t.stream.slice(4), artifacts: digested.data.artifacts });
                    // The evidence names the stream's event it was made after: a stream re-linked from
                    // an earlier event on no longer holds it (outcome --accept refuses such a run too).
                    const { streamVersion, lastEventHash } = digested.data.freshness;
                    if (stream[streamVersion]?.hash !== lastEventHash) {
                      lost.push(`${t.stream}: its evidence was made after version ${streamVersion} (hash ${lastEventHash.slice(0, 12)}...), which the stream no longer holds: re-linked outside cto-ledger`);
                    }
                  }
                  const first = stream[0];
                  if (first?.type === 'ContractAdmitted') {
                    const { targetId, admissionEventId, admissionHash } = first.data.target;
                    claims.push({ runStream: t.stream, targetStream: targetStream(targetId), eventId: admissionEventId, hash: admissionHash });
                  }
                } catch (err) {
                  // Counted as stored (its last version says how many), so the total is not short by a broken stream.
                  events += t.version + 1;
                  broken.push((err as Error).message);
                }
              }
              for (const c of claims) {
                // A target stream that broke is reported already; one never written (a synthetic log) names nothing.
                if (!readTargets.has(c.targetStream)) continue;
                const now = admissions.get(c.eventId);
                if (now === c.hash) continue;
                lost.push(
                  now === undefined
                    ? `${c.runStream} was admitted under event ${c.eventId} of ${c.targetStream}, which that stream no longer holds: it was removed or rewritten outside cto-ledger`
                    : `${c.runStream} was admitted under event ${c.eventId} of ${c.targetStream} with hash ${c.hash.slice(0, 16)}, but that event now hashes to ${now.slice(0, 16)}: ${c.targetStream} was rewritten outside cto-ledger`,
                );
              }
              // Runs the projections folded whose streams are gone altogether.
              for (const [runId, run] of folded) lost.push(foldedRunLost(runId, -1, run.version));
              const missing: number[] = [];
              for (let p = 1; held && p <= lastPosition && missing.length < 4; p++) if (!held[p]) missing.push(p);
              return { tails, broken, lost, bundles, events, lastPosition, missing, file: inspectStoreFile(ledger.store) };
            });
            // Every digested evidence bundle re-hashed, as `outcome --accept` does: the one the operator
            // reviews and applies (evidence/RUN/) and the content-addressed store.
            const paths = ledgerPaths(ledger.dir);
            for (const b of bundles) {
              const check = await verifyBundle(join(paths.root, 'evidence', b.runId), b.artifacts);
              const stored = check.ok ? await verifyArtifacts(paths.artifacts, b.artifacts) : check;
              if (!stored.ok) lost.push(`run ${b.runId}: evidence changed after it was digested: ${stored.detail}`);
            }
            const problems = [...broken, ...lost];
            // Every stream read whole: their events add up to the log's length, or some were removed.
            if (ledger.store.densePositions && broken.length === 0 && events !== lastPosition) {
              const which = `${missing.length === 1 ? 'position' : 'positions'} ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}`;
              problems.push(`the log ends at position ${lastPosition} but holds ${events} events: ${lastPosition - events} removed outside cto-ledger (${which})`);
            }
            if (file) problems.push(...file.schema);
            if (file?.integrity.length) problems.push(`SQLite integrity check: ${file.integrity.slice(0, 3).join('; ')}`);
            if (projections) problems.push(projections);
            // The projections are no events, so no chain covers them: folded afresh and compared (a
            // runs.json or control-surface.json edited to show a run accepted, say). Only over a log
            // that checks whole: a broken one is reported above, and a fold of it would stop there.
            else if (problems.length === 0) problems.push(...(await projectionDifferences(ledger)));
            // A config.yaml that cannot be read is reported with the rest, not in place of the store's health.
            let configProblem: string | null = null;
            const backends = await backendStatuses(ledger).catch((err: unknown) => {
              if (!(err instanceof BadInput)) throw err;
              configProblem = err.message;
              return [];
            });
            return {
              ok: problems.length === 0 && configProblem === null,
              ledger: ledger.dir,
              store: { kind: ledger.store.kind, file: ledgerPaths(ledger.dir).db, reachable: true, schemaVersion: Number(meta.schemaVersion), ledgerId: meta.ledgerId },
              lastPosition,
              events,
              chains: { streams: tails.length, broken },
              file: file ?? undefined,
              problems,
              isolation: detectIsolation(),
              limits: detectLimits(),
              activeBackends: backends.filter((b) => b.active).map((b) => b.id),
              config: configProblem as string | null,
            };
          },
          { refresh: false },
        )
        .catch((err: unknown) => {
          // Even when the store cannot be read at all, a script asking for JSON gets JSON.
          if (opts.json) output.out(json({ ok: false, ledger: ctx.ledgerDir(), error: (err as Error).message }));
          throw err;
        }));
      if (opts.json) output.out(json(report));
      else {
        output.out(
          [
            `ledger      ${report.ledger} (${report.store.kind}, schema v${report.store.schemaVersion}, id ${report.store.ledgerId})`,
            `position    ${report.lastPosition} (${report.events} events)`,
            `chains      ${report.chains.streams} streams, ${report.chains.broken.length ? `BROKEN: ${report.chains.broken.join('; ')}` : 'every one intact'}`,
            ...(report.file ? [`file        ${report.file.integrity.length || report.file.schema.length ? 'DAMAGED' : 'integrity check ok, append-only triggers in place'}`] : []),
            ...report.problems.filter((p) => !report.chains.broken.includes(p)).map((p) => `PROBLEM     ${p}`),
            `isolation   ${report.isolation.kind}: ${report.isolation.detail}`,
            `limits      ${report.limits.available ? '' : 'NONE: '}${report.limits.detail}`,
            report.config ? `backends    CONFIG UNREADABLE: ${report.config}` : `backends    ${report.activeBackends.length ? report.activeBackends.join(', ') : 'none active'}`,
          ].join('\n'),
        );
      }
      if (report.problems.length) throw new LedgerDamaged(`health check failed: ${report.problems.length} problem(s)`);
      if (report.config) throw new BadInput(report.config);
    });

  program
    .command('backup <dir>')
    .description('copy the ledger to a new dir as one consistent state, while it stays in use (projections are rebuilt there on first use)')
    .option('--json', 'machine-readable output')
    .action(async (to: string, opts: { json?: boolean }) => {
      let dest = resolve(dirToMake('backup DIR')(to));
      // A symbolic link names the dir it points to: the partial dir was renamed over the link itself,
      // which failed naming a `.partial-PID` path the user never typed. A dangling one names nothing.
      if (lstatSync(dest, { throwIfNoEntry: false })?.isSymbolicLink()) {
        if (!existsSync(dest)) throw new BadInput(`${dest} is a symbolic link to ${readlinkSync(dest)}, which does not exist: a backup goes to a new dir`);
        dest = realpathSync(dest);
      }
      if (existsSync(dest) && readdirSync(dest).length > 0) throw new BadInput(`${dest} exists and is not empty: a backup goes to a new dir`);
      const result = await ctx.withLedger(
        async (ledger) => {
          if (liesWithin(dest, ledger.dir)) throw new BadInput(`${dest} is inside the ledger dir ${resolve(ledger.dir)}: a backup goes outside it`);
          // Made beside it and renamed into place whole: a backup killed halfway leaves no dir that
          // looks like a ledger, only a `.partial-PID` one.
          const partial = `${dest}.partial-${process.pid}`;
          mkdirSync(partial, { recursive: true });
          // Ctrl-C or a TERM halfway (a backup of a large ledger takes a while): the partial dir goes too,
          // as on any other failure; the signal's default action left it behind for good.
          const interrupted = (signal: NodeJS.Signals) => {
            rmSync(partial, { recursive: true, force: true });
            const message = `backup interrupted (${signal}): nothing was left at ${dest}`;
            output.err(`cto-ledger: ${message}`);
            exitInterrupted(output, signal, message);
          };
          return whileInterruptible(interrupted, async () => {
            try {
              // The log first: artifacts and evidence only ever grow, so every one it names is copied after.
              const { lastPosition } = await backupStore(ledger.store, join(partial, 'ledger.db'));
              const paths = ledgerPaths(ledger.dir);
              for (const name of ['config.yaml', 'artifacts', 'evidence']) {
                const from = join(paths.root, name);
                if (existsSync(from)) cpSync(from, join(partial, name), { recursive: true, preserveTimestamps: true });
              }
              renameSync(partial, dest);
              return { backup: dest, lastPosition };
            } catch (err) {
              rmSync(partial, { recursive: true, force: true });
              throw err;
            }
          });
        },
        { refresh: false },
      );
      output.out(opts.json ? json(result) : `backed up the ledger up to position ${result.lastPosition} to ${result.backup} (its projections are folded on first use)`);
    });

  program
    .command('rebuild')
    .description('rebuild every projection from the start of the log and swap it in whole')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      let last = 0;
      const started = performance.now();
      const result = await ctx.withLedger(
        (ledger) => {
          if (ledger.readOnly) throw new StoreUnavailable(`${ledger.dir} is open read-only: rebuild writes the projections; nothing was written`);
          // Ctrl-C or a TERM halfway (a rebuild of a large log takes a while): its fresh copy goes, as on
          // any other failure, and the projections stay as they were.
          const interrupted = (signal: NodeJS.Signals) => {
            removeOwnRebuild(ledger);
            const message = `rebuild interrupted (${signal}): the projections are as they were`;
            output.err(`cto-ledger: ${message}`);
            exitInterrupted(output, signal, message);
          };
          return whileInterruptible(interrupted, () =>
            rebuildAllProjections(ledger, (done) => {
              if (!opts.json && done - last >= 50_000) {
                output.err(`rebuilt ${done} events...`);
                last = done;
              }
            }),
          );
        },
        { refresh: false },
      );
      const seconds = Math.round(performance.now() - started) / 1000;
      const perSecond = seconds > 0 ? Math.round(result.applied / seconds) : null;
      output.out(
        opts.json
          ? json({ ...result, seconds, eventsPerSecond: perSecond })
          : `rebuilt projections from ${result.applied} events (position ${result.position}) in ${seconds.toFixed(2)} s${perSecond ? `, ${perSecond.toLocaleString('en-US')} events/s` : ''}`,
      );
    });
}
