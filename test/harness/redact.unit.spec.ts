import { describe, expect, it } from 'vitest';
import { holdsSecret, redact } from '../../src/harness/evidence.js';

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
});
