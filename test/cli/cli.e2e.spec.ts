import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { spawn, spawnSync } from 'node:child_process';
import { CLI, cli } from '../fixtures/cli.js';
import { contractYaml, DEMO_BACKEND } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';
import { sampleEvent } from '../fixtures/events.js';
import { initLedger, ledgerPaths } from '../../src/ledger/ledger.js';
import { openSqliteStore } from '../../src/store/sqlite.js';

/** A ledger made through the CLI with the fixture target admitted and the demo backend enabled; removed after the suite. */
function cliLedger(prefix: string) {
  const tmp = tempDir(prefix);
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  const contract = (name: string, text: string) => {
    const file = join(tmp.dir, name);
    writeFileSync(file, text);
    return file;
  };
  beforeAll(() => {
    expect(run('init').code).toBe(0);
    writeFileSync(join(L, 'config.yaml'), stringify({ backends: [DEMO_BACKEND] }));
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    expect(run('backend', 'enable', 'demo').code).toBe(0);
  });
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });
  return { tmp, repo, L, run, contract };
}

describe('the CLI, as a user runs it', () => {
  const { tmp, repo, L, run, contract } = cliLedger('cto-cli-');
  const position = () => Number(JSON.parse(run('health', '--json').stdout).lastPosition);
  let runId = '';

  it('walks admit, approve and status with exit 0, and --json everywhere a machine reads', () => {
    const admitted = run('contract', 'admit', contract('ok.yaml', contractYaml()), '--json');
    expect(admitted.code).toBe(0);
    runId = JSON.parse(admitted.stdout).runId;
    expect(runId).toMatch(/^[0-9A-Z]{26}$/);
    expect(run('approve', runId, '--note', 'go').code).toBe(0);
    const status = JSON.parse(run('status', runId, '--json').stdout);
    expect(status).toMatchObject({ runId, status: 'approved', approval: { operator: 'jp', baseCommit: repo.head() } });
    expect(JSON.parse(run('status', '--json').stdout).runs[0]).toMatchObject({ runId, status: 'approved' });
    expect(JSON.parse(run('target', 'list', '--json').stdout)[0]).toMatchObject({ targetId: 'fixture', current: true });
    expect(JSON.parse(run('backend', 'list', '--json').stdout)[0]).toMatchObject({ id: 'demo', active: true });
    const health = JSON.parse(run('health', '--json').stdout);
    expect(health).toMatchObject({ ok: true, store: { kind: 'sqlite', schemaVersion: 2 }, chains: { broken: [] }, activeBackends: ['demo'] });
    const lines = run('events', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((e) => e.type)).toEqual(['TargetAdmitted', 'BackendEnabled', 'ContractAdmitted', 'ApprovalRecorded']);
    expect(lines.map((e) => e.position)).toEqual([1, 2, 3, 4]);
    expect(run('events', '--stream', `run-${runId}`).stdout).toMatch(/^4\trun-\w+@1\tApprovalRecorded/m);
    const streamLines = run('events', '--stream', `run-${runId}`, '--json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(streamLines.map((e) => [e.position, e.version])).toEqual([[3, 0], [4, 1]]);
  });

  it('rebuilds every projection from the log, to the same run list', () => {
    const before = run('status', '--json').stdout;
    const rebuilt = JSON.parse(run('rebuild', '--json').stdout);
    expect(rebuilt).toMatchObject({ position: 4, applied: 4, seconds: expect.any(Number) });
    expect(run('status', '--json').stdout).toBe(before);
  });

  it('exits 1 naming the gate when a gate refuses', () => {
    const r = run('outcome', runId, '--accept', '--reason', 'ship it');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^cto-ledger: refused by gate evidence-missing: /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // The refusal is on the ledger, and the projections Hermes reads show it at once.
    const list = JSON.parse(readFileSync(join(L, 'projections', 'runs.json'), 'utf8')) as Array<{ runId: string; lastRefusalGate: string | null }>;
    expect(list.find((e) => e.runId === runId)?.lastRefusalGate).toBe('evidence-missing');
    const out = join(tmp.dir, 'replayed');
    expect(run('replay', runId, '--out', out).code).toBe(0);
    for (const file of ['run.json', 'events.normalized.jsonl', 'trace.jsonl']) {
      expect(readFileSync(join(out, file), 'utf8')).toBe(readFileSync(join(L, 'projections', 'runs', runId, file), 'utf8'));
    }
    // Again into its own dir is fine; never into the ledger, nor over other files.
    expect(run('replay', runId, '--out', out).code).toBe(0);
    expect(run('replay', runId, '--out', join(L, 'evidence', runId))).toMatchObject({ code: 2, stderr: expect.stringMatching(/is inside the ledger dir/) });
    expect(run('replay', runId, '--out', tmp.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/holds other files/) });
  });

  it('exits 2 with one line naming what and where for bad input, and appends nothing', () => {
    const before = position();
    const cases: Array<[string[], RegExp]> = [
      [['contract', 'admit', contract('bad.yaml', 'title: [oops\n')], /bad\.yaml:\d+:\d+: malformed YAML/],
      [['contract', 'admit', contract('bad.json', '{"title": 1,')], /bad\.json:1:13: malformed JSON/],
      // Schema errors name the line of the field (an unknown key's own line; a missing one's mapping).
      [['contract', 'admit', contract('extra.yaml', contractYaml({ colour: 'blue' }))], /extra\.yaml:\d+:1: .*Unrecognized key: "colour"/],
      [['contract', 'admit', contract('missing.yaml', contractYaml({ successCriteria: undefined }))], /missing\.yaml:1:1: successCriteria/],
      [['contract', 'admit', contract('typed.json', JSON.stringify({ ...parseYaml(contractYaml()), limits: { backendSeconds: -5 } }, null, 2))], /typed\.json:\d+:\d+: limits\.backendSeconds: Too small/],
      [['contract', 'validate', join(tmp.dir, 'nope.yaml')], /nope\.yaml: no such file/],
      [['target', 'admit', tmp.dir, '--owner', 'jp'], /is not a git repository/],
      [['approve', '01ARZ3NDEKTSV4RRFFQ69G5FAV'], /unknown run 01ARZ3NDEKTSV4RRFFQ69G5FAV/],
      [['status', 'not-a-run'], /"not-a-run" is not a run id/],
      [['outcome', runId, '--accept', '--reject', '--reason', 'x'], /exactly one of --accept or --reject/],
      [['approve', runId, '--expires-hours', 'soon'], /--expires-hours must be a positive number/],
      [['approve', runId, '--expires-hours', '1e9'], /--expires-hours must be a positive number, at most 720, in digits \(such as 24 or 1\.5\), got "1e9"/],
      [['approve', runId, '--expires-hours', '1e6'], /--expires-hours must be a positive number, at most 720, in digits \(such as 24 or 1\.5\), got "1e6"/],
      [['target', 'admit', repo.path, '--owner', 'jp', '--expires-days', '0'], /--expires-days must be a positive number, at most 365, in digits/],
      [['approve', runId, '--expires-hours', '100000'], /--expires-hours must be at most 720/],
      [['target', 'admit', repo.path, '--owner', 'jp', '--expires-days', '1000000000'], /--expires-days must be at most 365/],
      [['frobnicate'], /unknown command/],
      // What reaches the ledger stays there and is printed back: no blanks, no control characters.
      [['deny', runId, '--by', ''], /--by must not be empty/],
      [['deny', runId, '--by', 'jp\n99\tforged'], /--by must be one line of text without control characters/],
      [['outcome', runId, '--reject', '--reason', ' '], /--reason must not be blank/],
      [['deny', runId, '--note', '  '], /--note must not be blank/],
      [['deny', runId, '--by', ' jp'], /--by must not begin or end with spaces/],
      [['deny', runId, '--by', 'j\u202ep'], /--by must be one line of text without control characters, got "j\\u202ep"/],
      [['target', 'admit', repo.path, '--owner', '\u001b[31mroot'], /--owner must be one line of text without control characters/],
      [['contract', 'admit', contract('ansi.yaml', contractYaml({ title: 'fine\u001b[2Jcleared' }))], /ansi\.yaml:\d+:\d+: title: one line of text, without control characters/],
      // Files that are not what the command needs: named, exit 2, never a system error code twice.
      [['contract', 'validate', tmp.dir], /: a directory, not a file$/],
      [['contract', 'admit', contract('dup.json', '{"title": "a", "title": "b"}')], /dup\.json:1:\d+: malformed JSON: Map keys must be unique/],
      [['contract', 'admit', contract('bomb.yaml', 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n')], /bomb\.yaml:\d+:\d+: malformed YAML: Excessive alias count/],
      [['target', 'admit', contract('plain-file', 'x'), '--owner', 'jp'], /plain-file: a file, not a repository directory/],
      [['replay', runId, '--out', contract('out-file', 'x')], /out-file: .*(exists|a file where a directory is needed)/],
      [['status', ''], /the run id is empty/],
      [['events', '--stream', `run-${runId}`, '--after', '2'], /--after reads the whole log from a position/],
      [['replay', runId, '--out', ''], /--out must not be empty/],
      [['replay', runId, '--out', '/proc/x'], /--out \/proc\/x is on a kernel file system/],
      [['backend', 'disable', 'demoo'], /backend demoo is not declared in config\.yaml and was never on this ledger/],
      // A malformed value is bad input, not a policy decision (a well-formed other digest is a gate's).
      [['approve', runId, '--digest', 'abc'], /--digest must be a sha256 digest \(64 hex characters\), got "abc"/],
      [['target', 'admit', repo.path, '--owner', 'jp', '--risk', 'HIGH'], /--risk must be one of low, medium, high, got "HIGH"/],
      [['target', 'revoke', 'x\u001b[2J', '--reason', 'r'], /the target id must be one line of text without control characters/],
      [['deny', runId, '--note', 'x'.repeat(4001)], /--note must be at most 4000 characters, got 4001/],
      [['deny', runId, '--by', 'x'.repeat(201)], /--by must be at most 200 characters/],
      [['--ledger', '', 'status'], /--ledger must name a directory/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    }
    expect(position()).toBe(before);
  }, 90_000);

  it('reads a contract written with a byte order mark; takes a blank CTO_OPERATOR as unset', () => {
    const bom = contract('bom.json', '\uFEFF' + JSON.stringify(parseYaml(contractYaml())));
    expect(run('contract', 'validate', bom).code).toBe(0);
    const md = contract('bom.md', '\uFEFF---\n' + contractYaml({ brief: undefined }) + '---\nThe brief.\n');
    expect(run('contract', 'validate', md).code).toBe(0);
    const crlf = contract('crlf.md', ('---\n' + contractYaml({ brief: undefined }) + '---\nThe brief,\non two lines.\n').replace(/\n/g, '\r\n'));
    expect(run('contract', 'validate', crlf).code).toBe(0);
    const r = cli(['--ledger', L, 'target', 'list', '--json'], { env: { CTO_OPERATOR: '' } });
    expect(r.code).toBe(0);
  });

  it('stops quietly when the reader of its output goes away (| head)', async () => {
    // More output than a pipe holds, so the writer is still writing when the reader has gone.
    const big = join(tmp.dir, 'big');
    await initLedger(big);
    const store = openSqliteStore({ file: ledgerPaths(big).db });
    for (let i = 0; i < 20; i++) await store.append('backend-bulk', Array.from({ length: 25 }, (_, n) => sampleEvent(i * 25 + n)), 'any');
    await store.close();
    const r = spawnSync('bash', ['-c', `node "${CLI}" --ledger "${big}" events --json | head -c 10 >/dev/null; echo "exit \${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
    expect(r.stdout.trim()).toBe('exit 0');
  });

  it("status tells an approval that lapsed (the projections are the same whatever the hour)", async () => {
    const admitted = run('contract', 'admit', contract('lapse.yaml', contractYaml()), '--json');
    const lapsing = JSON.parse(admitted.stdout).runId as string;
    expect(run('approve', lapsing, '--expires-hours', '0.0003').code).toBe(0);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(JSON.parse(run('status', '--json').stdout).approvalExpired).toEqual([lapsing]);
    expect(run('status').stdout).toMatch(new RegExp(`${lapsing}\\s+approved \\(expired\\)`));
  });

  it('many processes writing one stream at once all succeed (a conflict is decided again, not reported)', async () => {
    const before = position();
    const one = (i: number) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [CLI, '--ledger', L, 'target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp', '--by', `p${i}`], { stdio: 'ignore' });
        child.on('exit', (code) => resolve(code ?? -1));
      });
    const codes = await Promise.all(Array.from({ length: 16 }, (_, i) => one(i)));
    expect(codes).toEqual(codes.map(() => 0));
    expect(position()).toBe(before + 16);
  }, 60_000);

  it('prints one line per event, each saying what it records, control characters escaped', async () => {
    // A ledger written before the CLI refused control characters (or by another writer of the store).
    const old = join(tmp.dir, 'old');
    await initLedger(old);
    const store = openSqliteStore({ file: ledgerPaths(old).db });
    const forged = sampleEvent(1);
    Object.assign(forged.data, { reason: 'x\n99\tbackend-b@9\tBackendEnabled\tnow\tb enabled by boss\u001b[2J' });
    await store.append('backend-b', [sampleEvent(0), forged], 'any');
    await store.close();
    const r = cli(['--ledger', old, 'events']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('x\\u000a99\\u0009backend-b@9');
    expect(lines[1]).toContain('\\u001b[2J');
    // Tables too (a backend disabled by a name with an escape sequence in it).
    const esc = sampleEvent(2);
    Object.assign(esc.data, { backendId: 'b', disabledBy: 'u\u001b]0;pwned\u0007' });
    const again = openSqliteStore({ file: ledgerPaths(old).db });
    await again.append('backend-b', [esc], 'any');
    await again.close();
    writeFileSync(join(old, 'config.yaml'), stringify({ backends: [{ id: 'b', command: ['true'], eligibleRisks: ['low'] }] }));
    const list = cli(['--ledger', old, 'backend', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toMatch(/[\u001b\u0007]/);
    expect(list.stdout).toContain('disabled on the ledger by u\\u001b]0;pwned\\u0007');
    // Every line of the demo's whole route says what its event records.
    const described = run('events').stdout.trimEnd().split('\n').map((l) => l.split('\t')[4]);
    expect(described.every((d) => d && d.length > 5)).toBe(true);
  });

  it('exits 2 for a ledger that is not one, or was written by a newer schema; 3 for a broken chain', () => {
    const fake = join(tmp.dir, 'fake');
    mkdirSync(fake);
    writeFileSync(join(fake, 'ledger.db'), 'certainly not sqlite '.repeat(100));
    const notLedger = cli(['--ledger', fake, 'status']);
    expect(notLedger.code).toBe(2);
    expect(notLedger.stderr).toMatch(/fake\/ledger\.db is not a cto-ledger ledger/);
    expect(cli(['--ledger', join(tmp.dir, 'absent'), 'status']).stderr).toMatch(/no ledger at .*absent/);

    const newer = join(tmp.dir, 'newer');
    expect(cli(['--ledger', newer, 'init']).code).toBe(0);
    const db = new Database(join(newer, 'ledger.db'));
    db.exec('DROP TRIGGER meta_no_update');
    db.prepare(`UPDATE meta SET value = '7' WHERE key = 'schemaVersion'`).run();
    db.close();
    const r = cli(['--ledger', newer, 'health']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/written by a newer cto-ledger \(store schema v7/);
    const none = new Database(join(newer, 'ledger.db'));
    none.prepare(`UPDATE meta SET value = '0' WHERE key = 'schemaVersion'`).run();
    none.close();
    expect(cli(['--ledger', newer, 'health'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/has no valid store schema version \(meta\.schemaVersion is "0"\)/) });

    const tampered = new Database(join(L, 'ledger.db'));
    tampered.exec('DROP TRIGGER events_no_update');
    tampered.prepare(`UPDATE events SET body = replace(body, '"go"', '"GO"') WHERE type = 'ApprovalRecorded'`).run();
    tampered.close();
    const broken = run('events', '--stream', `run-${runId}`);
    expect(broken.code).toBe(3);
    expect(broken.stderr).toMatch(new RegExp(`hash chain broken in stream run-${runId} at version 1`));
    const health = run('health', '--json');
    expect(health.code).toBe(3);
    expect(JSON.parse(health.stdout).chains.broken[0]).toMatch(/version 1/);
  });
});

describe('the CLI, as people type it', () => {
  const { repo, L, run, contract } = cliLedger('cto-cli-typed-');

  it('takes a run id in lower case, and --by before the command as after it', () => {
    const admitted = run('--by', 'alice', 'contract', 'admit', contract('lc.yaml', contractYaml()), '--json');
    expect(admitted.code).toBe(0);
    const { runId: id, event } = JSON.parse(admitted.stdout) as { runId: string; event: { actor: unknown; data: { admittedBy: string } } };
    expect(event).toMatchObject({ actor: { id: 'alice' }, data: { admittedBy: 'alice' } });
    const approved = cli(['--by=bob', '--ledger', L, 'approve', id.toLowerCase(), '--json']);
    expect(approved.code).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ stream: `run-${id}`, data: { operator: 'bob' } });
    expect(JSON.parse(run('status', id.toLowerCase(), '--json').stdout)).toMatchObject({ runId: id, status: 'approved' });
    expect(run('events', '--stream', `run-${id.toLowerCase()}`).stdout).toMatch(/ApprovalRecorded/);
    expect(JSON.parse(run('--json', 'status', id).stdout)).toMatchObject({ runId: id });
    // A command that records no operator refuses it rather than ignoring it.
    expect(run('--by', 'bob', 'status').code).toBe(2);
  });

  it('answers --json with one JSON document on failure too, naming the gate; escapes what it echoes', () => {
    const admitted = JSON.parse(run('contract', 'admit', contract('j.yaml', contractYaml()), '--json').stdout) as { runId: string };
    const refused = run('outcome', admitted.runId, '--accept', '--reason', 'early', '--json');
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toEqual({ ok: false, exitCode: 1, gate: 'evidence-missing', error: expect.stringMatching(/^refused by gate evidence-missing: /) });
    const bad = run('status', 'nope', '--json');
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, exitCode: 2, error: '"nope" is not a run id (a ULID)' });
    expect(JSON.parse(run('no-such-command', '--json').stdout)).toMatchObject({ ok: false, exitCode: 2 });
    const echoed = run('events', '--stream', 'x\u001b[2J\nforged line');
    expect(echoed.code).toBe(2);
    expect(echoed.stderr).not.toMatch(/\u001b|\n./);
    expect(echoed.stderr).toContain('x\\u001b[2J\\u000aforged line');
  });
  it('writes no backup or replay inside the ledger dir, through a symlink either; a backup lands whole', () => {
    const { runId: id } = JSON.parse(run('contract', 'admit', contract('b.yaml', contractYaml()), '--json').stdout) as { runId: string };
    const link = join(L, '..', 'ledger-link');
    symlinkSync(L, link);
    expect(run('backup', join(link, 'bk'))).toMatchObject({ code: 2, stderr: expect.stringMatching(/is inside the ledger dir/) });
    expect(run('replay', id, '--out', join(link, 'projections', 'runs', id))).toMatchObject({ code: 2, stderr: expect.stringMatching(/is inside the ledger dir/) });
    expect(existsSync(join(L, 'bk'))).toBe(false);
    const dest = join(L, '..', 'backup-whole');
    expect(run('backup', dest).code).toBe(0);
    expect(readdirSync(join(L, '..')).filter((n) => n.includes('.partial-'))).toEqual([]);
    expect(JSON.parse(cli(['--ledger', dest, 'health', '--json']).stdout)).toMatchObject({ ok: true });
  });

  it('status tells an approval a revocation voided, though the log still says approved', () => {
    const { runId: id } = JSON.parse(run('contract', 'admit', contract('v.yaml', contractYaml()), '--json').stdout) as { runId: string };
    expect(run('approve', id).code).toBe(0);
    expect(JSON.parse(run('status', id, '--json').stdout)).toMatchObject({ status: 'approved', approvalStanding: 'usable' });
    expect(run('target', 'revoke', 'fixture', '--reason', 'handed over').code).toBe(0);
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    expect(JSON.parse(run('status', id, '--json').stdout)).toMatchObject({ status: 'approved', approvalStanding: 'voided-by-revocation' });
    expect(run('status', id).stdout).toMatch(/approval +approved by .*\(void: the target was revoked after it; approve again\)/);
    expect(JSON.parse(run('status', '--json').stdout).approvalVoided).toContain(id);
    expect(run('status').stdout).toMatch(new RegExp(`${id} +approved \\(void\\)`));
    // Approved again under the new admission, it is usable again.
    expect(run('approve', id).code).toBe(0);
    expect(JSON.parse(run('status', id, '--json').stdout)).toMatchObject({ approvalStanding: 'usable' });
    // Its admission renewed for about a second, then lapsed: the approval stands no more.
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp', '--expires-days', '0.00001').code).toBe(0);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_200);
    expect(JSON.parse(run('status', id, '--json').stdout)).toMatchObject({ approvalStanding: 'target-not-admitted' });
    expect(JSON.parse(run('status', '--json').stdout).approvalTargetNotAdmitted).toContain(id);
    expect(run('status').stdout).toMatch(new RegExp(`${id} +approved \\(target not admitted\\)`));
  });
});
