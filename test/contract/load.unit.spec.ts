import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { jsonFaultOffset, loadContract } from '../../src/contract/load.js';
import { DEFAULT_FORBIDDEN_ACTIONS } from '../../src/contract/schema.js';
import { BadInput } from '../../src/errors.js';
import { contractYaml } from '../fixtures/ledgers.js';
import { tempDir } from '../fixtures/tmp.js';

const tmp = tempDir('cto-contract-');
afterAll(() => tmp.remove());
let n = 0;
function file(ext: string, text: string): string {
  const path = join(tmp.dir, `c${n++}${ext}`);
  writeFileSync(path, text);
  return path;
}
function failure(path: string): string {
  try {
    loadContract(path);
  } catch (err) {
    expect(err).toBeInstanceOf(BadInput);
    return (err as Error).message;
  }
  throw new Error('expected the contract to be refused');
}

describe('contract files', () => {
  it('reads YAML, JSON and Markdown-with-front-matter to the same contract and digest', () => {
    const fromYaml = loadContract(file('.yaml', contractYaml()));
    const fields = JSON.parse(JSON.stringify(fromYaml.contract));
    const fromJson = loadContract(file('.json', JSON.stringify({ ...fields, forbiddenActions: [] })));
    const { brief, ...front } = fields;
    const md = `---\n${contractYaml({ brief: undefined }).replace(/^brief:.*\n/m, '')}---\n\n${brief}\n`;
    const fromMd = loadContract(file('.md', md));
    expect(fromYaml.format).toBe('yaml');
    expect(fromMd.format).toBe('markdown');
    expect(fromJson.contractDigest).toBe(fromYaml.contractDigest);
    expect(fromMd.contractDigest).toBe(fromYaml.contractDigest);
    expect(fromMd.contract.brief).toBe(brief);
    expect(front.workItem).toBe('CTO-WORK-049');
  });

  it('always forbids the default actions; a contract may add, never remove', () => {
    const c = loadContract(file('.yaml', contractYaml({ forbiddenActions: ['schema-migration'] }))).contract;
    expect(c.forbiddenActions).toEqual([...DEFAULT_FORBIDDEN_ACTIONS, 'schema-migration'].sort());
    const only = loadContract(file('.yaml', contractYaml({ forbiddenActions: ['push'] }))).contract;
    expect(only.forbiddenActions).toEqual([...DEFAULT_FORBIDDEN_ACTIONS].sort());
  });

  it('changes the digest when any field changes', () => {
    const a = loadContract(file('.yaml', contractYaml())).contractDigest;
    const b = loadContract(file('.yaml', contractYaml({ allowedPaths: ['src/**', 'docs/**'] }))).contractDigest;
    expect(a).not.toBe(b);
  });

  it('names the file, line and field of what is wrong', () => {
    expect(failure(file('.yaml', 'title: [unclosed\nbrief: x\n'))).toMatch(/contract-invalid: .*c\d+\.yaml:\d+:\d+: malformed YAML/);
    expect(failure(file('.json', '{"title": '))).toMatch(/malformed JSON/);
    expect(failure(file('.yaml', contractYaml({ colour: 'blue' })))).toMatch(/Unrecognized key.*colour/);
    expect(failure(file('.yaml', contractYaml({ allowedPaths: [] })))).toMatch(/allowedPaths/);
    expect(failure(file('.yaml', contractYaml({ rollback: undefined })))).toMatch(/rollback/);
    expect(failure(file('.yaml', contractYaml({ validation: undefined })))).toMatch(/validation: name a validation command, or give an explicit noTestRationale/);
    expect(failure(file('.yaml', contractYaml({ noTestRationale: 'docs only' })))).toMatch(/not both/);
    expect(failure(file('.yaml', contractYaml({ workItem: 'work 49' })))).toMatch(/workItem/);
    expect(failure(file('.md', '# no front matter\n'))).toMatch(/front matter/);
    expect(failure(file('.txt', 'x'))).toMatch(/unknown contract format \.txt/);
    expect(failure(join(tmp.dir, 'missing.yaml'))).toMatch(/missing\.yaml: no such file/);
  });

  it('accepts an explicit no-test rationale instead of a validation command', () => {
    const c = loadContract(file('.yaml', contractYaml({ validation: undefined, noTestRationale: 'documentation only' }))).contract;
    expect(c.noTestRationale).toBe('documentation only');
    expect(c.validation).toBeUndefined();
  });
});

describe('allowedPaths entries that can never match a repository-relative path', () => {
  it.each([
    ['/etc/**', 'is absolute'],
    ['../**', 'has a .. segment'],
    ['src/../x', 'has a .. segment'],
    ['src/..', 'has a .. segment'],
    ['', 'is empty'],
    ['   ', 'is empty'],
    ['src\\**', 'has a backslash'],
    ['src\\lib\\x.ts', 'has a backslash'],
    ['src/**/', 'ends with /'],
    ['src/', 'ends with /'],
    ['src//a.ts', 'has an empty segment'],
    ['src/./a.ts', 'has a . segment after the first'],
  ])('refuses %j, naming the file, line, field and entry', (entry, why) => {
    const message = failure(file('.yaml', contractYaml({ allowedPaths: ['docs/**', entry] })));
    expect(message).toMatch(/^contract-invalid: .*c\d+\.yaml:\d+:\d+: allowedPaths\.1: /);
    expect(message).toContain(`${JSON.stringify(entry.trim())} ${why}`);
    expect(message).not.toMatch(/Too small/);
  });

  it('keeps the digest of contracts whose entries can match (the check changes nothing admitted)', () => {
    expect(loadContract(file('.yaml', contractYaml())).contractDigest).toBe('5025ff3608c674a1305b15e541564e053ccbe68cb301721ef8cf9860dbd2e67e');
    const entries = [' ./src/** ', 'docs/*.md', '**/*.test.ts', '[*]x'];
    expect(loadContract(file('.yaml', contractYaml({ allowedPaths: entries }))).contractDigest).toBe('ba3f0b4169de0c66e3b4f186eeadb5f1172bc6287622d79839f8ac02f7e425d8');
  });

  it('names a key given twice among thousands, and cuts a list of unknown keys short', () => {
    let many = '';
    for (let i = 0; i < 20_000; i++) many += `  k${i}: 1\n`;
    const dup = file('.yaml', `${contractYaml()}extra:\n${many}  k17: 2\n`);
    expect(() => loadContract(dup)).toThrow(`contract-invalid: ${dup}:${contractYaml().split('\n').length + 20_001}:3: malformed YAML: Map keys must be unique ("k17" is given twice)`);
    const unknown = file('.yaml', contractYaml() + many.replaceAll('  k', 'k'));
    const message = (() => {
      try {
        loadContract(unknown);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toMatch(/Unrecognized keys: "k0", "k1", "k2", "k3", "k4" and 19995 more/);
    expect(message.length).toBeLessThan(1_000);
  });
});

// In Markdown the body is the brief: an empty one was told as "brief: expected string, received
// undefined" at the front matter's first line, a field the operator never wrote there.
describe('a Markdown contract with an empty body', () => {
  const front = contractYaml().replace(/^brief:.*\n/m, '');
  const closing = front.split('\n').length + 1; // the line of the closing --- (front ends with a newline)

  it('is refused naming the body, at the closing --- line', () => {
    for (const tail of ['', '\n', '\n  \n\n']) {
      const md = file('.md', `---\n${front}---${tail}`);
      expect(failure(md)).toBe(`contract-invalid: ${md}:${closing}: the body, which is the brief, is empty: write the task below the closing --- line`);
    }
  });

  it('is read when the front matter gives the brief', () => {
    expect(loadContract(file('.md', `---\n${contractYaml()}---\n`)).contract.brief).toBe('Make greet() say hello.');
  });
});

describe('a Markdown contract with empty front matter', () => {
  it('is told the front matter is empty, with the fields a contract needs', () => {
    for (const text of ['---\n---\nThe brief.\n', '---\n\n---\nThe brief.\n', '---\r\n---\r\nThe brief.\r\n']) {
      const message = failure(file('.md', text));
      expect(message).toMatch(/the front matter is empty/);
      expect(message).not.toMatch(/needs YAML front matter/);
      for (const field of ['title', 'target', 'backend', 'references', 'allowedPaths', 'successCriteria', 'rollback', 'validation', 'noTestRationale']) expect(message).toContain(field);
    }
    // No front matter at all is still told as such.
    expect(failure(file('.md', 'The brief.\n'))).toMatch(/needs YAML front matter between --- lines/);
  });
});

// A fault in a Markdown contract's body (the brief: an escape sequence, a form feed) was placed at
// the front matter's line 2, where the operator looked and found nothing wrong. It is placed where
// the body's text begins.
describe('a Markdown contract whose body the brief refuses', () => {
  const front = contractYaml().replace(/^brief:.*\n/m, '');
  const closing = front.split('\n').length + 1; // the line of the closing ---

  it('is refused at the body, not in the front matter', () => {
    const md = file('.md', `---\n${front}---\nFine line.\nwith a form feed \f here\n`);
    expect(failure(md)).toBe(`contract-invalid: ${md}:${closing + 1}: brief: text without control characters other than newlines and tabs`);
    const spaced = file('.md', `---\n${front}---\n\n\nText \u001b[31m red\n`);
    expect(failure(spaced)).toBe(`contract-invalid: ${spaced}:${closing + 3}: brief: text without control characters other than newlines and tabs`);
  });
});

// yaml finds each alias's anchor by scanning every anchor and alias before it: a megabyte of `&aN x`
// then `*aN` took 44 s to read (and was then admitted), a config.yaml the same on every command.
describe('a contract with more aliases than any hand-written one needs', () => {
  it('is refused at once naming the first alias past the limit', () => {
    const many = (n: number) =>
      contractYaml({ references: undefined }).replace(/^references:.*\n/m, '') +
      `references:\n${Array.from({ length: n }, (_, i) => `  - &a${i} r\n`).join('')}${Array.from({ length: n }, (_, i) => `  - *a${i}\n`).join('')}`;
    const ok = file('.yaml', many(50));
    expect(loadContract(ok).contract.references).toHaveLength(100);
    const big = file('.yaml', many(35_000));
    const line = contractYaml({ references: undefined }).replace(/^references:.*\n/m, '').split('\n').length + 35_000 + 101;
    const started = Date.now();
    expect(failure(big)).toBe(`contract-invalid: ${big}:${line}:5: malformed YAML: more than 100 aliases (*name), the first past them here: write the values out`);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 60_000);
});

// yaml reads a tag it does not know as the plain string, with only a warning: `title: !!float 12`
// was admitted as the title "12", `!custom hello` as "hello", an unknown %DIRECTIVE as nothing.
describe('a YAML tag or directive yaml does not resolve', () => {
  it('is refused naming its line, as in config.yaml', () => {
    const lines = contractYaml().split('\n').length;
    for (const [tagged, message] of [
      ['title: !custom hello', 'Unresolved tag: !custom (write the value without a tag)'],
      ['title: !!float 12', 'Unresolved tag: tag:yaml.org,2002:float (write the value without a tag)'],
      ['title: !!bool yes', 'Unresolved tag: tag:yaml.org,2002:bool (write the value without a tag)'],
    ] as const) {
      const path = file('.yaml', `${contractYaml({ title: undefined }).replace(/^title:.*\n/m, '')}${tagged}\n`);
      expect(failure(path), tagged).toBe(`contract-invalid: ${path}:${lines - 1}:8: malformed YAML: ${message}`);
    }
    const directive = file('.yaml', `%FOO bar\n---\n${contractYaml()}`);
    expect(failure(directive)).toBe(`contract-invalid: ${directive}:1:1: malformed YAML: Unknown directive %FOO`);
    // tags yaml resolves stay as they were: a string made so, a value zod then judges
    expect(loadContract(file('.yaml', contractYaml({ title: undefined }).replace(/^title:.*\n/m, '') + 'title: !!str 123\n')).contract.title).toBe('123');
    const config = file('.yaml', 'backends:\n  - id: agent\n    command: [/bin/true]\n    description: !secret x\n');
    expect(() => loadConfig(config)).toThrow(`${config}:4:18: malformed YAML: Unresolved tag: !secret (write the value without a tag)`);
  });
});

// A Markdown contract whose front matter is there but not on line 1 (a blank line or a heading above
// it) or never closed was told "needs YAML front matter between --- lines", which it has, with no line.
describe('a Markdown contract whose front matter is not on line 1, or not closed', () => {
  const front = contractYaml().replace(/^brief:.*\n/m, '');

  it('is told where the front matter is, and what is wrong with it', () => {
    const below = file('.md', `\n---\n${front}---\nThe brief.\n`);
    expect(failure(below)).toBe(`contract-invalid: ${below}:2: Markdown contract needs YAML front matter between --- lines, the first on line 1: the first --- is on line 2, below blank lines`);
    const heading = file('.md', `# Greet\r\n\r\n---\r\n${front.replace(/\n/g, '\r\n')}---\r\nThe brief.\r\n`);
    expect(failure(heading)).toBe(`contract-invalid: ${heading}:3: Markdown contract needs YAML front matter between --- lines, the first on line 1: the first --- is on line 3, below other text`);
    for (const end of ['', '...\nThe brief.\n']) {
      const open = file('.md', `---\n${front}${end}`);
      expect(failure(open)).toBe(`contract-invalid: ${open}:1: the front matter opened by --- on line 1 is never closed: end it with a --- line, the brief below it`);
    }
    expect(loadContract(file('.md', `---\n${front}---\nThe brief.\n\n---\n\nMore of it.\n`)).contract.brief).toBe('The brief.\n\n---\n\nMore of it.');
  });
});

// A malformed JSON contract was told "malformed JSON: Expected double-quoted property name in JSON at
// position 282" (a character count), or with no place at all ("Unexpected token '/', ... is not valid
// JSON"), where every other fault names its line and column.
describe('a malformed JSON contract', () => {
  const fields = JSON.parse(JSON.stringify(loadContract(file('.yaml', contractYaml())).contract)) as Record<string, unknown>;
  const pretty = JSON.stringify(fields, null, 2);

  it('is refused naming the line and column of the fault', () => {
    const trailing = file('.json', pretty.replace(/\n}$/, ',\n}'));
    const lines = pretty.split('\n').length;
    expect(failure(trailing)).toBe(`contract-invalid: ${trailing}:${lines}:1: malformed JSON: Expected double-quoted property name`);
    const comment = file('.json', pretty.replace('{\n', '{\n  // the greeting task\n'));
    expect(failure(comment)).toBe(`contract-invalid: ${comment}:2:3: malformed JSON: Expected property name or '}'`);
    const above = file('.json', `\n// the greeting task\n${pretty}`);
    expect(failure(above)).toMatch(new RegExp(`^contract-invalid: ${above}:2:1: malformed JSON: Unexpected token '/'`));
    const nan = file('.json', pretty.replace('"backendSeconds": 900', '"backendSeconds": NaN'));
    const line = pretty.split('\n').findIndex((l) => l.includes('"backendSeconds"')) + 1;
    expect(failure(nan)).toMatch(new RegExp(`^contract-invalid: ${nan}:${line}:23: malformed JSON: Unexpected token 'N'`));
    const after = file('.json', `${pretty}\n}`);
    expect(failure(after)).toBe(`contract-invalid: ${after}:${lines + 1}:1: malformed JSON: Unexpected non-whitespace character after JSON`);
    expect(loadContract(file('.json', pretty)).contractDigest).toBe(loadContract(file('.yaml', contractYaml())).contractDigest);
  });

  it('finds no fault in JSON that parses, however deep', () => {
    for (const text of [pretty, '[]', '{}', ' "x" ', '[1, -2.5e+3, true, false, null, {"a": [{}]}]', '"\\u00e9\\n"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`]) {
      expect(jsonFaultOffset(text), text.slice(0, 40)).toBe(-1);
    }
    for (const [text, at] of [['{"a" 1}', 5], ['[1,]', 3], ['{"a":1,}', 7], ['tru', 0], ['01', 1], ['"a\tb"', 0], ['{"a":1}}', 7], ['', 0]] as const) {
      expect(jsonFaultOffset(text), text).toBe(at);
    }
  });
});

// A Markdown contract whose body began with a second block of fields between --- lines (two front
// matters run together, a template pasted above the brief) was admitted with that block as the
// brief: `backend:` and `allowedPaths:` there were never applied, and the agent was handed them as its task.
describe('a Markdown contract whose body begins with a second front matter', () => {
  const front = contractYaml().replace(/^brief:.*\n/m, '');
  const closing = front.split('\n').length + 1; // the line of the closing ---

  it('is refused at its --- line, naming the contract fields it gives', () => {
    const twice = file('.md', `---\n${front}---\n\n---\nbackend: other\nallowedPaths: ["**"]\n---\nThe brief.\n`);
    expect(failure(twice)).toBe(`contract-invalid: ${twice}:${closing + 2}: a second front matter (backend, allowedPaths) begins the body: put its fields in the one on line 1; the body is the brief`);
  });

  it('leaves a body of --- rules, or a block of other keys, as the brief', () => {
    expect(loadContract(file('.md', `---\n${front}---\n---\nThe brief.\n---\nMore.\n`)).contract.brief).toBe('---\nThe brief.\n---\nMore.');
    expect(loadContract(file('.md', `---\n${front}---\n---\nlayout: post\n---\nThe brief.\n`)).contract.brief).toBe('---\nlayout: post\n---\nThe brief.');
  });
});

// Three refusals named no line, or the wrong thing: a brief in the front matter and in the body, a
// contract that is a list or a lone word, and one of nothing but comments ("must be a mapping of
// fields", where an empty front matter is told the fields a contract needs).
describe('a contract that is no mapping of fields, or gives the brief twice', () => {
  it('is told where, or what it needs', () => {
    const front = contractYaml();
    const briefLine = front.split('\n').findIndex((l) => l.startsWith('brief:')) + 2; // after the opening ---
    const twice = file('.md', `---\n${front}---\nThe brief again.\n`);
    expect(failure(twice)).toBe(`contract-invalid: ${twice}:${briefLine}:1: brief is given twice (front matter and body)`);
    const list = file('.yaml', '# a contract\n- title: x\n- target: y\n');
    expect(failure(list)).toBe(`contract-invalid: ${list}:2:1: the contract must be a mapping of fields`);
    const listed = file('.md', '---\n- title: x\n---\nThe brief.\n');
    expect(failure(listed)).toBe(`contract-invalid: ${listed}:2:1: the contract must be a mapping of fields`);
    const comments = file('.yaml', '# to fill in\n');
    expect(failure(comments)).toMatch(/^contract-invalid: .*: the contract is empty: it needs title, target, backend, references, allowedPaths/);
    const commentedFront = file('.md', '---\n# title: to fill in\n---\nThe brief.\n');
    expect(failure(commentedFront)).toMatch(/^contract-invalid: .*: the front matter is empty: between the --- lines a contract needs title, /);
  });
});

// JSON and YAML escapes can write half a surrogate pair (`\ud800`), which is no character: admitted,
// its digest bound a string that, written as UTF-8 (the brief handed to the backend, the terminal),
// reads U+FFFD, the same for `\ud800` and `\udbff` under two digests.
describe('a contract with a lone surrogate escape', () => {
  it('is refused naming the field; whole pairs (an emoji) are read as before', () => {
    const fields = JSON.parse(JSON.stringify(loadContract(file('.yaml', contractYaml())).contract)) as Record<string, unknown>;
    const lone = file('.json', JSON.stringify({ ...fields, brief: 'Greet \ud800 people' }));
    expect(failure(lone)).toMatch(/^contract-invalid: .*c\d+\.json:1:\d+: brief: a lone surrogate escape \(\\ud800-\\udfff\) is no character/);
    const path = file('.yaml', `${contractYaml({ allowedPaths: undefined }).replace(/^allowedPaths:.*\n(  - .*\n)*/m, '')}allowedPaths: ["src/\\udc00/**"]\n`);
    expect(failure(path)).toMatch(/allowedPaths\.0: a lone surrogate escape/);
    expect(loadContract(file('.json', JSON.stringify({ ...fields, title: 'Greet \ud83d\ude00' }))).contract.title).toBe('Greet 😀');
  });
});

// Keys were compared for uniqueness only when written out as plain scalars: `*t : Evil` naming a
// `&t title` was a second title, kept silently over the first (a config.yaml's `*k : other` a second
// id); a key that is a list or a map printed node's "Warning: Keys with collection values will be
// stringified" on stderr, and an unknown key `1:` or `null:` was placed at line 1, not at its own.
describe('map keys as JavaScript takes them', () => {
  const lines = contractYaml().split('\n').length; // the line after the last field

  it('are unique through an alias, in a contract and in config.yaml', () => {
    const text = `${contractYaml({ references: undefined })}references: [&t title]\n*t : Evil title\n`;
    const aliased = file('.yaml', text);
    expect(failure(aliased)).toBe(`contract-invalid: ${aliased}:${text.split('\n').length - 1}:1: malformed YAML: Map keys must be unique ("title" is given twice)`);
    const config = file('.yaml', 'backends:\n  - &k id: agent\n    command: [/bin/true]\n    *k : other\n');
    expect(() => loadConfig(config)).toThrow(`${config}:4:5: malformed YAML: Map keys must be unique ("id" is given twice)`);
  });

  it('refuse a key that is a list or a map at its line, and place an unknown key that is a number at its own', () => {
    const listKey = file('.yaml', `${contractYaml()}? [title]\n: x\n`);
    expect(failure(listKey)).toBe(`contract-invalid: ${listKey}:${lines}:3: malformed YAML: a key that is a list or a map: field names are plain words`);
    const numberKey = file('.yaml', `${contractYaml()}1: x\n`);
    expect(failure(numberKey)).toBe(`contract-invalid: ${numberKey}:${lines}:1: (root): Unrecognized key: "1"`);
  });
});

// A .yaml contract with a second document (a Markdown contract saved as .yaml, a trailing ---) was
// told yaml's "Source contains multiple documents; please use YAML.parseAllDocuments()", said to a programmer.
describe('a YAML contract or config.yaml of two documents', () => {
  it('is told the file is one document, at the line that begins the second', () => {
    const lines = contractYaml().split('\n').length;
    const markdown = file('.yaml', `---\n${contractYaml({ brief: undefined })}---\nThe brief.\n`);
    const front = contractYaml({ brief: undefined }).split('\n').length;
    expect(failure(markdown)).toBe(
      `contract-invalid: ${markdown}:${front + 1}:1: malformed YAML: a second YAML document begins here (a --- or ... line ends the first): the file is one document (fields between --- lines and the brief below them make a Markdown contract: name it .md)`,
    );
    const trailing = file('.yaml', `${contractYaml()}---\n`);
    expect(failure(trailing)).toMatch(new RegExp(`^contract-invalid: .*:${lines}:1: malformed YAML: a second YAML document begins here`));
    const config = file('.yaml', 'backends: []\n...\nbackends: []\n');
    expect(() => loadConfig(config)).toThrow(`${config}:3:1: malformed YAML: a second YAML document begins here (a --- or ... line ends the first): the file is one document`);
  });
});
