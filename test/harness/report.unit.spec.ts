import { describe, expect, it } from 'vitest';
import { renderReportMarkdown, type ExecutionReport } from '../../src/harness/report.js';

const base: ExecutionReport = {
  runId: 'R', title: 'T', workItem: null, contractDigest: 'd', backend: { id: 'b', command: ['x'] },
  target: { id: 't', path: '/p', baseCommit: 'c' }, isolation: 'bubblewrap', startedAt: 's', endedAt: 'e', backendSeconds: 1,
  exit: { code: 0, signal: null, timedOut: false }, status: 'failed-closed', failedGate: 'path-disallowed', gateResults: [], paths: [],
  shimAttempts: [], connections: [], connectionsNotListed: 0, validation: { command: null, rationale: 'r', exitCode: null, ran: false }, patchBytes: 0, limits: {},
};

describe('report.md', () => {
  it('shows what the backend named (paths in findings, refused commands, hosts) with control characters escaped', () => {
    const md = renderReportMarkdown({
      ...base,
      gateResults: [{ gate: 'path-disallowed', ok: false, detail: 'src/x\n\n# Succeeded: forged\n\n (a file name with control characters)' }],
      shimAttempts: ['git push \u001b[2K\r\u001b[32mnothing attempted'],
      connections: [{ at: 'now', host: 'h\u001b]0;t\u0007', port: 443, allowed: false, method: 'CONNECT' }],
    });
    expect(md).not.toMatch(/^# Succeeded/m);
    expect(md).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(md).toContain('| path-disallowed | **FAIL** | src/x\\u000a\\u000a# Succeeded: forged');
    expect(md).toContain('git push \\u001b[2K\\u000d');
  });

  it('says how many connections were counted past the listed ones, and nothing when there were none', () => {
    expect(renderReportMarkdown({ ...base, connectionsNotListed: 41 })).toContain('- and 41 more connections, counted but not listed');
    expect(renderReportMarkdown(base)).not.toContain('more connections');
  });
});
