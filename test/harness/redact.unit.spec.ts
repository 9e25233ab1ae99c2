import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { holdsSecret, LOG_CAP, logForEvidence, redact } from '../../src/harness/evidence.js';
import { tempDir } from '../fixtures/tmp.js';

describe('redact', () => {
  it('replaces every copy of a secret value, whatever its case (a host name comes back lower-cased)', () => {
    const out = redact(Buffer.from('CONNECT Sup3rS3cretTok.evil.example:443 then sup3rs3crettok.evil.example, and a+b(c)'), { TOKEN: 'Sup3rS3cretTok', ODD: 'a+b(c)' });
    expect(out.toString()).toBe('CONNECT [redacted:TOKEN].evil.example:443 then [redacted:TOKEN].evil.example, and [redacted:ODD]');
  });
  it('leaves text without secrets, and values too short to be one, as they are', () => {
    const text = Buffer.from('nothing here: abc');
    expect(redact(text, { SHORT: 'abc', OTHER: 'zzzzzz' })).toBe(text);
  });
  it('finds a secret as redact does, in any case', () => {
    expect(holdsSecret('src/leak-sup3rs3crettok.txt', 'Sup3rS3cretTok')).toBe(true);
    expect(holdsSecret('src/clean.txt', 'Sup3rS3cretTok')).toBe(false);
    expect(holdsSecret('abc', 'abc')).toBe(false);
  });

  it('finds and redacts a secret smuggled encoded: base64 at any alignment, URL-safe base64, hex, percent-encoding', () => {
    const secret = 'sk-live/Zq+9876543210';
    const bytes = Buffer.from(secret);
    const smuggled = [
      bytes.toString('base64'),
      Buffer.concat([Buffer.from('x'), bytes, Buffer.from('tail')]).toString('base64'),
      Buffer.concat([Buffer.from('xy'), bytes]).toString('base64url'),
      bytes.toString('hex').toUpperCase(),
      encodeURIComponent(secret),
      [...bytes].map((b) => `%${b.toString(16)}`).join(''),
    ];
    for (const text of smuggled) {
      expect(holdsSecret(`const blob = "${text}";`, secret), text).toBe(true);
      const out = redact(Buffer.from(`const blob = "${text}";`), { TOKEN: secret }).toString();
      expect(out, text).toContain('[redacted:TOKEN]');
      expect(holdsSecret(out, secret), out).toBe(false);
    }
    // ordinary code holds none of the forms
    expect(holdsSecret('export const greet = (n) => `Hello, ${n}!`; // base64 and hex helpers below', secret)).toBe(false);
  });

  it('finds an encoded secret an encoder wrapped across lines (base64 at 76 columns, xxd -p at 60), in a file or a patch', () => {
    const secret = 'sk-live-x9Y8w7V6u5T4s3R2q1P0o9N8m7L6k5J4i3H2g1F0e9D8c7B6a5Z4y3X2w1V0';
    const base64 = Buffer.from(secret).toString('base64').replace(/.{76}/g, '$&\n');
    const hex = Buffer.from(secret).toString('hex').replace(/.{60}/g, '$&\n');
    for (const text of [base64, hex, base64.split('\n').map((l) => `+${l}`).join('\n')]) expect(holdsSecret(text, secret), text).toBe(true);
    expect(holdsSecret('line one\nline two\n', secret)).toBe(false);
  });

  it('redacts a value wrapped across lines in a log, plain or encoded, line breaks included, and keeps the line count', () => {
    const secret = 'sk-live-x9Y8w7V6u5T4s3R2q1P0o9N8';
    const logs = [
      // base64(1) wraps at 76 columns; the value starts on one line and ends on the next
      `dump:\n${Buffer.from('x'.repeat(50) + secret).toString('base64').replace(/.{76}/g, '$&\n')}\ndone\n`,
      `CRLF:\r\n${Buffer.from('xy' + secret).toString('base64').replace(/.{20}/g, '$&\r\n')}\r\ndone\r\n`,
      // the value itself split by a newline, a CRLF, a lone CR, a blank line, an indented continuation
      `token ${secret.slice(0, 9)}\n${secret.slice(9)} ok\n`,
      `token ${secret.slice(0, 9)}\r\n${secret.slice(9)} ok\r\n`,
      `token ${secret.slice(0, 9)}\r${secret.slice(9)} ok\r`,
      `token ${secret.slice(0, 4)}\n\n${secret.slice(4, 20)}\n    ${secret.slice(20)} ok\n`,
      // escaped as JSON writes a newline inside a string (report.json, trace.jsonl)
      JSON.stringify({ command: `git push ${secret.slice(0, 12)}\n${secret.slice(12)}` }),
      // hex wrapped at an odd width, splitting a byte's two digits
      Buffer.from(secret).toString('hex').replace(/.{7}/g, '$&\n'),
    ];
    for (const log of logs) {
      const out = redact(Buffer.from(log), { TOKEN: secret }).toString();
      expect(out, log).toContain('[redacted:TOKEN]');
      expect(out.split('\n').length, log).toBe(log.split('\n').length);
      // nothing recoverable: no copy, plain or base64 or hex, even with every line break taken out
      const joined = out.replace(/\r|\n|\\n/g, '').toLowerCase();
      for (const form of [secret, Buffer.from('xx' + secret).toString('base64').slice(4), Buffer.from(secret).toString('hex')]) {
        expect(joined, log).not.toContain(form.toLowerCase().slice(0, 24));
      }
      expect(holdsSecret(out, secret), out).toBe(false);
    }
    // a text without it is left as it was, line breaks and all
    const clean = Buffer.from(`token sk-live-\nother\r\nx9Y8 ${secret.slice(0, 10)}\n`);
    expect(redact(clean, { TOKEN: secret })).toBe(clean);
  });

  it('finds a value split across lines as redact does, in a patch too (after each line\'s marker)', () => {
    const secret = 'sk-live-x9Y8w7V6u5T4s3R2q1P0o9N8';
    expect(holdsSecret(`+const a = "${secret.slice(0, 10)}\n+${secret.slice(10)}";\n`, secret)).toBe(true);
    expect(holdsSecret(`token ${secret.slice(0, 10)}\r\n${secret.slice(10)}`, secret)).toBe(true);
    expect(holdsSecret(`token ${secret.slice(0, 10)}\n# ${secret.slice(10)}`, secret)).toBe(false);
  });

  /** What a real tool prints for this input. */
  const tool = (command: string, input: string) => execFileSync('/bin/sh', ['-c', command], { input }).toString();
  /** No window of `size` characters of `form` left in the text, in any case. */
  const noWindow = (text: string, form: string, size: number) => {
    const lower = text.toLowerCase();
    for (let i = 0; i + size <= form.length; i++) expect(lower, form.slice(i, i + size)).not.toContain(form.slice(i, i + size).toLowerCase());
  };

  it('finds and redacts base32 (RFC 4648 and its extended hex, padded or not, either case, at every alignment) as base32(1) and basenc print it', () => {
    const secret = 'sk-live-x9Y8w7V6u5T4s3R2q1P0o9N8';
    for (const prefix of ['', 'a', 'ab', 'abc', 'abcd']) {
      const printed = [
        tool('base32', prefix + secret),
        tool('base32 -w 0', prefix + secret),
        tool("base32 | tr -d '=' | tr A-Z a-z", prefix + secret),
        tool('basenc --base32hex', prefix + secret),
      ];
      for (const text of printed) {
        expect(holdsSecret(`const blob = "${text}";`, secret), text).toBe(true);
        const out = redact(Buffer.from(text), { TOKEN: secret }).toString();
        expect(out, text).toContain('[redacted:TOKEN]');
        expect(holdsSecret(out, secret), out).toBe(false);
        // what is left decodes to no 4 bytes of the value: at most the few characters it shares with its neighbours
        noWindow(out.replace(/\s/g, ''), text.replace(/\s/g, '').slice(Math.ceil((8 * prefix.length) / 5) + 1, -8), 8);
      }
    }
  });

  it('finds and redacts hex as xxd, xxd -g1, xxd -p, hexdump -C, od -A x -t x1z, od -t x1, od -x and hexdump print it, across their lines, text column included', () => {
    const secret = 'sk-live-x9Y8w7V6u5T4s3R2q1P0o9N8';
    const hex = Buffer.from(secret).toString('hex');
    for (const prefix of ['', 'p', 'some log line: ']) {
      for (const command of ['xxd', 'xxd -g1', 'xxd -p', 'hexdump -C', 'od -A x -t x1z', 'od -t x1', 'od -x', 'hexdump']) {
        const text = tool(command, `${prefix}${secret} and after\n`);
        const label = `${command} of ${prefix}...:\n${text}`;
        expect(holdsSecret(text, secret), label).toBe(true);
        const out = redact(Buffer.from(text), { TOKEN: secret }).toString();
        expect(holdsSecret(out, secret), out).toBe(false);
        // no 5 of its bytes left in hex on any line (byte order, or 16-bit words swapped), nor 5 of its characters in the text column
        for (const line of out.split('\n')) {
          const digits = line.replace(/^[0-9a-f]+:?\s/i, '').replace(/[^0-9a-f]/gi, '');
          noWindow(digits, hex, 10);
          noWindow(digits, hex.replace(/(..)(..)/g, '$2$1'), 10);
          noWindow(digits, hex.slice(2).replace(/(..)(..)/g, '$2$1'), 10);
        }
        noWindow(out, secret, 5);
      }
    }
    // and as C and shell write bytes: \x73\x6b..., 0x73, 0x6b, ..., 73:6b:...
    const bytes = [...Buffer.from(secret)].map((b) => b.toString(16));
    for (const text of [bytes.map((b) => `\\x${b}`).join(''), `{ ${bytes.map((b) => `0x${b}`).join(', ')} }`, bytes.join(':')]) {
      expect(holdsSecret(text, secret), text).toBe(true);
      expect(holdsSecret(redact(Buffer.from(text), { TOKEN: secret }).toString(), secret)).toBe(false);
    }
  });

  it('finds and redacts the value reversed, as rev(1) prints it', () => {
    const secret = 'sk-live-x9Y8w7V6u5T4s3R2q1P0o9N8';
    const text = tool('rev', `token ${secret}\n`);
    expect(holdsSecret(text, secret)).toBe(true);
    const out = redact(Buffer.from(text), { TOKEN: secret }).toString();
    expect(out).toBe('[redacted:TOKEN] nekot\n');
    // a value whose hex holds no letter is still found as plain hex and as percent-encoding, only not with gaps
    for (const text of ['3132333435363738', '%31%32%33%34%35%36%37%38']) expect(holdsSecret(`x = "${text}";`, '12345678'), text).toBe(true);
    expect(holdsSecret('x = [31, 32, 33, 34, 35, 36, 37, 38];', '12345678')).toBe(false);
    // under 8 characters, the reversed value is not looked for: it would match ordinary text
    expect(holdsSecret('let x = "gnip";', 'ping')).toBe(false);
  });

  it('finds none of those forms in ordinary text: a lock file, sources, hashes, base64 blobs, hex dumps of other bytes', () => {
    const secrets = ['sk-live-x9Y8w7V6u5T4s3R2q1P0o9N8', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'hunter2hunter2', 'abcdefgh', '12345678'];
    const sha = (i: number, alg: string) => execFileSync('/bin/sh', ['-c', `printf %s ${i} | openssl dgst -${alg} -binary`]);
    const lock = JSON.stringify(
      { name: 'app', lockfileVersion: 3, packages: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`node_modules/pkg-${i}`, { version: `1.${i}.0`, resolved: `https://registry.npmjs.org/pkg-${i}/-/pkg-${i}-1.${i}.0.tgz`, integrity: `sha512-${sha(i, 'sha512').toString('base64')}` }])) },
      null,
      2,
    );
    const texts = [
      lock,
      Array.from({ length: 20 }, (_, i) => `${sha(i, 'sha256').toString('hex')}  src/file-${i}.js`).join('\n'),
      tool('xxd', Array.from({ length: 20 }, (_, i) => sha(i, 'sha1').toString('hex')).join('')),
      tool('hexdump -C', 'an ordinary line of text, with numbers 61 62 63 64 65 66 67 68\n'),
      tool('base32', 'ordinary bytes, not a secret'),
      `const digits = [61, 62, 63, 64, 65, 66, 67, 68];\nconst more = [31, 32, 33, 34, 35, 36, 37, 38];\nexport const greet = (n) => \`Hello, \${n}!\`;\n`,
    ];
    for (const secret of secrets) for (const text of texts) expect(holdsSecret(text, secret), `${secret} in ${text.slice(0, 200)}`).toBe(false);
  });

  it('redacts a log before cutting it: a secret straddling the 16 MiB cut leaves none of its bytes', () => {
    const tmp = tempDir('cto-log-cut-');
    try {
      const secret = 'sk-live-Zq9876543210abcdef';
      const log = join(tmp.dir, 'backend.stdout.log');
      // The secret starts 6 bytes before the cut: "sk-liv" would be kept, matched by no pattern of the whole value.
      writeFileSync(log, Buffer.concat([Buffer.alloc(LOG_CAP - 6, '.'), Buffer.from(`${secret}\nmore output\n`)]));
      const kept = logForEvidence(log, { TOKEN: secret });
      const text = kept.toString('utf8');
      expect(text).toMatch(/\[cto-ledger: cut at \d+ bytes of \d+\]\n$/);
      expect(text).not.toContain('sk-liv');
      expect(text.slice(LOG_CAP - 6, LOG_CAP)).toBe('[redac');
      // Without secrets, the log is cut as it is.
      expect(logForEvidence(log, {}).subarray(LOG_CAP - 6, LOG_CAP).toString()).toBe('sk-liv');
    } finally {
      tmp.remove();
    }
  });

  it('finds a value holding quotes or backslashes once JSON has escaped them (report.json, trace.jsonl)', () => {
    const secret = 'pa"ss\\word-1234';
    const json = Buffer.from(JSON.stringify({ detail: `the backend printed ${secret} and left`, nested: [secret] }, null, 2));
    expect(json.toString()).toContain('pa\\"ss\\\\word');
    const out = redact(json, { TOKEN: secret }).toString();
    expect(out).not.toMatch(/pa\\"ss|word-1234/);
    expect(JSON.parse(out)).toEqual({ detail: 'the backend printed [redacted:TOKEN] and left', nested: ['[redacted:TOKEN]'] });
  });
});
