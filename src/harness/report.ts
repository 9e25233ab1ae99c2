import type { EventData } from '../events/catalogue.js';
import type { LimitsReport } from './limits.js';
import type { Connection } from './sandbox.js';

// The human and machine reports of one execution.

export type ExecutionReport = {
  runId: string;
  title: string;
  workItem: string | null;
  contractDigest: string;
  backend: { id: string; command: string[] };
  target: { id: string; path: string; baseCommit: string };
  isolation: string;
  startedAt: string;
  endedAt: string;
  backendSeconds: number;
  exit: { code: number | null; signal: string | null; timedOut: boolean };
  status: 'succeeded' | 'failed-closed';
  failedGate: string | null;
  gateResults: EventData<'CaseExecuted'>['gateResults'];
  paths: Array<{ path: string; change: string; verdict: string; why: string }>;
  shimAttempts: string[];
  connections: Connection[];
  /** Connections past the first MAX_CONNECTIONS_LISTED, counted only (0 when the step's end was not reached). */
  connectionsNotListed: number;
  validation: { command: string | null; rationale: string | null; exitCode: number | null; ran: boolean };
  patchBytes: number;
  /** The process and memory caps of each step that ran, and what it ran into. */
  limits: Partial<Record<'setup' | 'backend' | 'validation', LimitsReport>>;
  /**
   * Set when the harness itself failed after the claim (an exception of its own, not a gate): the
   * bundle then holds what was gathered before it failed, and no patch.
   */
  harnessError?: string;
};

function describeLimits(step: string, l: LimitsReport): string {
  if (!l.enforced) return `- ${step}: **no process or memory cap** (${l.reason})`;
  const hit = [l.oomKills ? `${l.oomKills} killed at the memory cap` : '', l.forkRefusals ? `${l.forkRefusals} forks refused` : ''].filter(Boolean).join(', ');
  return `- ${step}: at most ${l.processes} processes and ${l.memoryMiB} MiB (${l.mechanism}); peak ${l.peakMemoryMiB} MiB${hit ? `; **${hit}**` : ''}`;
}

/**
 * Text the backend could choose (a path in a gate's finding, a refused command's arguments, a host)
 * shown with control and bidi characters escaped: a line break in a file name must not end the table
 * and forge a heading, nor an escape sequence rewrite the reader's terminal.
 */
function shown(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function renderReportMarkdown(r: ExecutionReport): string {
  const lines = [
    `# ${r.status === 'succeeded' ? 'Succeeded' : `Failed closed: ${r.failedGate}`}: ${r.title}`,
    '',
    `- run: \`${r.runId}\`${r.workItem ? ` (${r.workItem})` : ''}`,
    `- contract digest: \`${r.contractDigest}\``,
    `- target: ${r.target.id} at \`${r.target.baseCommit}\` (${r.target.path})`,
    `- backend: ${r.backend.id} (\`${r.backend.command.join(' ')}\`), isolation: **${r.isolation}**`,
    `- ran ${r.startedAt} to ${r.endedAt} (${r.backendSeconds.toFixed(2)} s), exit ${r.exit.code ?? '-'}${r.exit.signal ? `, signal ${r.exit.signal}` : ''}${r.exit.timedOut ? ', timed out' : ''}`,
    ...(r.harnessError
      ? ['', `**The harness itself failed** before it could judge the run, which fails closed: ${shown(r.harnessError)}. No patch was kept; what follows is what it had gathered (the backend's logs, refused commands, connections).`]
      : []),
    '',
    '## Gates',
    '',
    '| gate | result | finding |',
    '| --- | --- | --- |',
    ...r.gateResults.map((g) => `| ${g.gate} | ${g.ok ? 'pass' : '**FAIL**'} | ${shown(g.detail).replace(/\|/g, '\\|')} |`),
    '',
    '## Changed paths',
    '',
    // A path is the backend's to name: control characters and quotes shown escaped, as JSON would.
    ...(r.paths.length ? r.paths.map((p) => `- \`${JSON.stringify(p.path).slice(1, -1)}\` ${p.change}: ${p.verdict} (${p.why})`) : ['(none)']),
    '',
    '## Validation',
    '',
    r.validation.command
      ? `\`${r.validation.command}\`: ${r.validation.ran ? `exit ${r.validation.exitCode}` : 'not run (an earlier gate failed)'} (see test.log)`
      : `No validation command; rationale: ${r.validation.rationale}`,
    '',
    '## Limits',
    '',
    ...Object.entries(r.limits).map(([step, l]) => describeLimits(step, l)),
    '',
    '## Attempts and connections',
    '',
    ...(r.shimAttempts.length ? r.shimAttempts.map((a) => `- refused: \`${shown(a)}\``) : ['- no forbidden command attempted']),
    ...(r.connections.length ? r.connections.map((c) => `- ${c.allowed ? 'allowed' : 'refused'} ${c.method} ${shown(c.host)}:${c.port} at ${c.at}`) : ['- no network connection']),
    ...(r.connectionsNotListed ? [`- and ${r.connectionsNotListed} more connections, counted but not listed`] : []),
    '',
    r.harnessError
      ? 'No patch: the harness failed before it made one. Check the bundle with `sha256sum -c SHA256SUMS`.'
      : `The patch (${r.patchBytes} bytes) is \`patch.diff\`; it applies with \`git apply\` on \`${r.target.baseCommit}\`. Check the bundle with \`sha256sum -c SHA256SUMS\`.`,
    '',
  ];
  return lines.join('\n');
}
