import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { BadInput } from '../errors.js';
import { systemTempDir } from '../temp-dir.js';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { CliContext } from './context.js';
import { dirToMake } from './options.js';
import { detectIsolation } from '../harness/isolation.js';
import { demoContract, makeDemoRepo, writeDemoBackends } from './demo-fixture.js';

type Step = { say: string; argv: string[]; expect: number };

/**
 * One argument as a POSIX shell reads it back, for the commands the demo prints to be typed or pasted:
 * wrapped in '...' only when it held a space or a quote, a dir named `it's` printed '/tmp/it's/greeter',
 * which a shell reads as another path, and `$x` or `*` were left for it to expand.
 */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the governed route end to end on a throwaway repository and ledger')
    .option('--dir <dir>', 'where to build the demo (default: a new temp dir, kept for you to inspect)', dirToMake('--dir'))
    .action(async (opts: { dir?: string }) => {
      const { main } = await import('./main.js');
      const out = ctx.output;
      // A dir of the user's is never written over: the demo makes its repository and files there.
      if (opts.dir && existsSync(opts.dir) && readdirSync(opts.dir).length > 0) {
        throw new BadInput(`${opts.dir} exists and is not empty: the demo builds in a new or empty dir`);
      }
      // Absolute: the backends' scripts are named in config.yaml by this path, and a backend runs in its
      // worktree, where a relative `--dir` named nothing (execute failed closed, provider-failure).
      const dir = opts.dir !== undefined ? resolve(opts.dir) : systemTempDir('cto-ledger-demo-', "the demo's throwaway repository and ledger (or give --dir)");
      const ledger = join(dir, 'ledger');
      const repo = makeDemoRepo(dir);
      const backends = writeDemoBackends(dir);
      const contractFile = join(dir, 'CTO-WORK-049.md');
      // Only bubblewrap keeps what `isolation: required` promises; elsewhere the demo still shows the route.
      const isolation = detectIsolation();
      const level = isolation.kind === 'bubblewrap' ? 'required' : 'best-effort';
      writeFileSync(contractFile, demoContract('demo', level));
      out.out(`cto-ledger demo in ${dir}\n  target repository ${repo}\n  ledger            ${ledger}\n`);
      if (level !== 'required') out.out(`note: ${isolation.detail}; the demo's contracts say isolation: best-effort, a real contract requires bubblewrap\n`);

      let runId = '';
      const capture = { out: (t: string) => (runId = t.trim()), err: (t: string) => out.err(t) };
      const run = async (step: Step, quietOut = false): Promise<void> => {
        out.out(`# ${step.say}\n$ cto-ledger ${step.argv.map(shellQuote).join(' ')}`);
        const code = await main(['--ledger', ledger, ...step.argv], quietOut ? capture : out);
        if (quietOut) out.out(runId);
        if (code !== step.expect) throw new Error(`demo step failed (exit ${code}, expected ${step.expect}): ${step.say}`);
        out.out('');
      };

      // The commands below run with --ledger; printed without it, a person typing them met ./.cto-ledger
      // ("no ledger at ..."): the ledger is named once, as a shell names it for every later command.
      out.out(`# every command below uses the demo's ledger\n$ export CTO_LEDGER_DIR=${shellQuote(ledger)}`);
      out.out('');
      await run({ say: 'create the ledger', argv: ['init'], expect: 0 });
      writeFileSync(
        join(ledger, 'config.yaml'),
        stringify({
          backends: [
            { id: 'demo', description: 'a script that makes the requested change', command: [process.execPath, backends.good], eligibleRisks: ['low'] },
            { id: 'demo-stray', description: 'a script that also edits CI', command: [process.execPath, backends.stray], eligibleRisks: ['low'] },
          ],
        }),
      );
      await run({ say: 'admit the target repository (owned, noncritical, low risk; 7 days)', argv: ['target', 'admit', repo, '--owner', 'jp', '--by', 'jp'], expect: 0 });
      await run({ say: 'backends are declared in config.yaml but none is active by default', argv: ['backend', 'list'], expect: 0 });
      await run({ say: 'a contract for an inactive backend is refused', argv: ['contract', 'admit', contractFile, '--by', 'jp'], expect: 1 });
      await run({ say: 'activate the demo backend (recorded on the ledger)', argv: ['backend', 'enable', 'demo', '--by', 'jp', '--note', 'demo'], expect: 0 });
      await run({ say: 'validate, then admit the contract: prints the run id', argv: ['contract', 'validate', contractFile], expect: 0 });
      await run({ say: 'admit it', argv: ['contract', 'admit', contractFile, '--by', 'jp'], expect: 0 }, true);
      await run({ say: "approve: binds the contract digest and the target's HEAD", argv: ['approve', runId, '--by', 'jp', '--note', 'go ahead'], expect: 0 });
      await run({ say: 'acceptance needs digested evidence: refused before the harness has run', argv: ['outcome', runId, '--accept', '--by', 'jp', '--reason', 'too early'], expect: 1 });
      await run({ say: 'execute through the harness: worktree, sandboxed backend, checks, validation, evidence', argv: ['execute', runId, '--by', 'jp'], expect: 0 });
      await run({ say: 'accept: the evidence re-verifies now and the target is still at the base commit', argv: ['outcome', runId, '--accept', '--by', 'jp', '--reason', 'patch reviewed, test passes'], expect: 0 });
      await run({ say: 'the run, with its replay paths', argv: ['status', runId], expect: 0 });
      const goodRun = runId;

      out.out('# a second run: a backend that also edits the CI workflow, outside its allowed paths');
      await run({ say: 'activate the straying backend', argv: ['backend', 'enable', 'demo-stray', '--by', 'jp'], expect: 0 });
      writeFileSync(contractFile, demoContract('demo-stray', level));
      await run({ say: 'admit the same task for it', argv: ['contract', 'admit', contractFile, '--by', 'jp'], expect: 0 }, true);
      await run({ say: 'approve', argv: ['approve', runId, '--by', 'jp'], expect: 0 });
      await run({ say: 'execute: it fails closed (exit 1, the gate named)', argv: ['execute', runId, '--by', 'jp'], expect: 1 });
      await run({ say: 'a failed-closed run can only be rejected', argv: ['outcome', runId, '--accept', '--by', 'jp', '--reason', 'try anyway'], expect: 1 });
      await run({ say: 'reject it', argv: ['outcome', runId, '--reject', '--by', 'jp', '--reason', 'touched CI'], expect: 0 });
      await run({ say: 'every run', argv: ['status'], expect: 0 });
      await run({ say: 'health: store, chains, isolation, active backends', argv: ['health'], expect: 0 });
      out.out(
        [
          `The accepted change is ${join(ledger, 'evidence', goodRun, 'patch.diff')} (apply it with git apply).`,
          `Its evidence: ${join(ledger, 'evidence', goodRun)} (check with: cd there && sha256sum -c SHA256SUMS).`,
          `The failed run's report: ${join(ledger, 'evidence', runId, 'report.md')}.`,
          `Everything is kept in ${dir}.`,
        ].join('\n'),
      );
    });
}
