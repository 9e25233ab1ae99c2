import { isAlias, isMap, isScalar, LineCounter, parseDocument, visit, YAMLParseError, type Document } from 'yaml';
import type { z } from 'zod';

/**
 * A map key as JavaScript takes it (yaml's toJS: null is '', a scalar its string), through an alias to
 * the node it names; null for a key that is a list or a map (or an alias to one), undefined for an
 * alias to no anchor (toJS says so).
 */
function jsKey(key: unknown, targets: ReadonlyMap<unknown, unknown>): string | null | undefined {
  const node = isAlias(key) ? targets.get(key) : key;
  if (node === undefined) return undefined;
  if (!isScalar(node)) return null;
  const value = node.value;
  return value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Each alias of a document and the node its anchor names, found in document order (in one pass). */
function aliasTargets(doc: Document): Map<unknown, unknown> {
  const anchors = new Map<string, unknown>();
  const targets = new Map<unknown, unknown>();
  visit(doc, {
    Node(_, node) {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target !== undefined) targets.set(node, target);
      } else if (node.anchor) anchors.set(node.anchor, node);
      return undefined;
    },
  });
  return targets;
}

/**
 * The first key given twice in one map of a parsed document, or null. yaml's own check (`uniqueKeys`)
 * compares every key with every earlier one of its map: 40,000 keys took 15 s. Here a set per map,
 * in one pass; documents are parsed with `uniqueKeys: false` and checked with this. Keys compare as
 * JavaScript takes them: `*t` naming a `&t title` is a second title (it was, silently, the one kept),
 * as `1` is `"1"`. A key that is a list or a map (no field is named so; yaml warned on stderr) is `collection`.
 */
function firstDuplicateKey(doc: Document): { key: string; offset: number; collection?: true } | null {
  let duplicate: { key: string; offset: number; collection?: true } | null = null;
  let targets: Map<unknown, unknown> | null = null;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (isAlias(pair.key)) targets ??= aliasTargets(doc);
        const key = isScalar(pair.key) ? jsKey(pair.key, new Map()) : jsKey(pair.key, targets ?? new Map());
        const offset = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
        if (key === undefined) continue;
        if (key === null) {
          duplicate = { key: '', offset, collection: true };
          return visit.BREAK;
        }
        if (seen.has(key)) {
          duplicate = { key, offset };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return duplicate;
}

/**
 * More aliases than any hand-written contract or config needs. yaml finds each alias's anchor by a scan
 * of every anchor and alias before it, and counts an anchor's own aliases by a walk of the whole
 * document: a megabyte of `&aN x` and `*aN` took 44 s to read, 2,000 aliases of small lists 11 s.
 */
const MAX_ALIASES = 100;

/** Where the alias after the first `max` is (its offset), or null when there are no more than `max`. */
function aliasPast(doc: Document, max: number): number | null {
  let count = 0;
  let past: number | null = null;
  visit(doc, {
    Alias(_, alias) {
      if (++count <= max) return undefined;
      past = alias.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return past;
}

/**
 * A YAML (or JSON) text parsed with each node's place kept, the first syntax error thrown as yaml
 * throws it, and the first key given twice in a map found in one pass (line and column, 1-based).
 */
export function parseKeepingPlaces(text: string): {
  doc: Document;
  lines: LineCounter;
  duplicate: { key: string; line: number; col: number } | null;
  /** The document's value; an alias yaml refuses to expand (unknown, or a bomb) thrown as a YAMLParseError at the first alias. */
  toJS: () => unknown;
} {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines });
  const error = doc.errors[0];
  if (error?.code === 'MULTIPLE_DOCS') {
    // yaml's "Source contains multiple documents; please use YAML.parseAllDocuments()" is said to a programmer.
    throw Object.assign(new YAMLParseError(error.pos, error.code, 'a second YAML document begins here (a --- or ... line ends the first): the file is one document'), { linePos: error.linePos });
  }
  if (error) throw error;
  // yaml reads a tag it does not know (`!custom x`, `!!float 12`, `!!bool yes`) as the plain string,
  // an unknown directive as nothing, with only a warning: the value admitted was not the one written.
  // (A flow collection's ] or } no more indented than its parent, BAD_INDENT, is read as meant.)
  const warning = doc.warnings.find((w) => w.code !== 'BAD_INDENT');
  if (warning) {
    const message = warning.code === 'TAG_RESOLVE_FAILED' ? `${warning.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')} (write the value without a tag)` : warning.message;
    throw Object.assign(new YAMLParseError(warning.pos, warning.code, message), { linePos: warning.linePos });
  }
  const found = firstDuplicateKey(doc);
  if (found?.collection) {
    const message = 'a key that is a list or a map: field names are plain words';
    throw Object.assign(new YAMLParseError([found.offset, found.offset + 1], 'BAD_COLLECTION_TYPE', message), { linePos: [lines.linePos(found.offset)] });
  }
  const toJS = (): unknown => {
    const excess = aliasPast(doc, MAX_ALIASES);
    if (excess !== null) {
      const message = `more than ${MAX_ALIASES} aliases (*name), the first past them here: write the values out`;
      throw Object.assign(new YAMLParseError([excess, excess + 1], 'RESOURCE_EXHAUSTION', message), { linePos: [lines.linePos(excess)] });
    }
    try {
      return doc.toJS();
    } catch (err) {
      // yaml throws a bare ReferenceError, placeless: "Excessive alias count indicates a resource
      // exhaustion attack" (an alias bomb) or "Unresolved alias ...". Placed at the alias it names, or the first.
      if (!(err instanceof ReferenceError)) throw err;
      const named = /: (\S+)$/.exec(err.message)?.[1];
      let at: number | null = null;
      visit(doc, {
        Alias(_, alias) {
          if (named !== undefined && err.message.startsWith('Unresolved alias') && alias.source !== named) return undefined;
          at = alias.range?.[0] ?? null;
          return visit.BREAK;
        },
      });
      const place = at ?? 0;
      throw Object.assign(new YAMLParseError([place, place + 1], 'BAD_ALIAS', err.message), { linePos: [lines.linePos(place)] });
    }
  };
  return { doc, lines, duplicate: found && { key: found.key, ...lines.linePos(found.offset) }, toJS };
}

/**
 * `:line:col` of the field at `path` in a document parsed with its places kept (of `unknownKey` in that
 * map when given; of the nearest present parent when the field is missing); `lineOffset` lines come
 * before the document in its file (a Markdown contract's front matter). Empty when no place is known.
 */
export function placeOf(doc: Document, lines: LineCounter, fieldPath: ReadonlyArray<string | number>, unknownKey?: string, lineOffset = 0): string {
  let path = [...fieldPath];
  let node: unknown = null;
  if (unknownKey !== undefined) {
    const map = path.length ? doc.getIn(path, true) : doc.contents;
    if (isMap(map)) node = map.items.find((pair) => isScalar(pair.key) && jsKey(pair.key, new Map()) === unknownKey)?.key ?? null;
  }
  for (; !node && path.length > 0; path = path.slice(0, -1)) node = doc.getIn(path, true) ?? null;
  node ??= doc.contents;
  const range = (node as { range?: [number, number, number] } | null)?.range;
  if (!range) return '';
  const pos = lines.linePos(range[0]);
  return `:${pos.line + lineOffset}:${pos.col}`;
}

/** placeOf a schema issue's field: its key when the key is unknown. */
export function placeOfIssue(doc: Document, lines: LineCounter, issue: z.core.$ZodIssue, lineOffset = 0): string {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  return placeOf(doc, lines, path, issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined, lineOffset);
}
