import { isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';

/**
 * The first key given twice in one map of a parsed document, or null. yaml's own check (`uniqueKeys`)
 * compares every key with every earlier one of its map: 40,000 keys took 15 s. Here a set per map,
 * in one pass; documents are parsed with `uniqueKeys: false` and checked with this.
 */
function firstDuplicateKey(doc: Document): { key: string; offset: number } | null {
  let duplicate: { key: string; offset: number } | null = null;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          duplicate = { key: String(pair.key.value), offset: pair.key.range?.[0] ?? 0 };
          return visit.BREAK;
        }
        seen.add(pair.key.value);
      }
      return undefined;
    },
  });
  return duplicate;
}

/**
 * A YAML (or JSON) text parsed with each node's place kept, the first syntax error thrown as yaml
 * throws it, and the first key given twice in a map found in one pass (line and column, 1-based).
 */
export function parseKeepingPlaces(text: string): { doc: Document; lines: LineCounter; duplicate: { key: string; line: number; col: number } | null } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines });
  if (doc.errors.length > 0) throw doc.errors[0];
  const found = firstDuplicateKey(doc);
  return { doc, lines, duplicate: found && { key: found.key, ...lines.linePos(found.offset) } };
}
