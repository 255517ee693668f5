import { LIMITS } from "./protocol";

/**
 * Splits a long text into parts of at most `max` characters on the most natural boundary found in
 * the second half of each window: a blank line, then a line break, then a sentence end, then a
 * space; only a text with none of these is cut hard. Nothing is dropped but the one whitespace
 * run at each cut, and a surrogate pair (an emoji) is never cut in two.
 *
 * Linear in the text's length: each window is searched once, and the whitespace around a cut is
 * skipped with trimEnd/trimStart on the part alone (a regex like /\s+$/ on a text with long inner
 * runs of spaces backtracks over every run: seconds for 1 MB). trim and \s use the same characters.
 */
export function splitText(text: string, max: number = LIMITS.textMax): string[] {
  if (max < 2) throw new RangeError("max must be at least 2");
  const parts: string[] = [];
  let start = 0;
  while (text.length - start > max) {
    const window = text.slice(start, start + max + 1);
    const cut = findCut(window, max);
    const part = window.slice(0, cut).trimEnd();
    if (part) parts.push(part);
    start = skipWhitespace(text, start + cut);
  }
  const rest = text.slice(start);
  if (rest) parts.push(rest);
  return parts;
}

/** The first index at or after `from` that is not whitespace (as String.prototype.trim sees it). */
function skipWhitespace(text: string, from: number): number {
  let index = from;
  while (index < text.length) {
    // A chunk at a time: trimStart of a short slice is linear and uses exactly trim's characters.
    const chunk = text.slice(index, index + 256);
    const trimmed = chunk.trimStart();
    index += chunk.length - trimmed.length;
    if (trimmed.length) break;
  }
  return index;
}

const BOUNDARIES: readonly RegExp[] = [/\n\s*\n/g, /\n/g, /[.!?…](?=\s)/g, /\s/g];

/** Where to cut `window` (the next max + 1 characters): an index in [max / 2, max], or max. */
function findCut(window: string, max: number): number {
  const minimum = Math.floor(max / 2);
  for (const boundary of BOUNDARIES) {
    let best = -1;
    boundary.lastIndex = 0;
    for (let m = boundary.exec(window); m; m = boundary.exec(window)) {
      // A sentence end keeps its punctuation; whitespace boundaries cut before the whitespace.
      const end = boundary.source.startsWith("[") ? m.index + m[0].length : m.index;
      if (end <= max && end >= minimum) best = end;
      if (m[0].length === 0) boundary.lastIndex++;
    }
    if (best > 0) return best;
  }
  // No boundary: cut at max, but never between the halves of a surrogate pair.
  const code = window.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}
