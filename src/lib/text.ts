import { LIMITS } from "./protocol";

/**
 * Splits a long text into parts of at most `max` characters on the most natural boundary found in
 * the second half of each window: a blank line, then a line break, then a sentence end, then a
 * space; only a text with none of these is cut hard. Nothing is dropped but the one whitespace
 * run at each cut, and a surrogate pair (an emoji) is never cut in two.
 */
export function splitText(text: string, max: number = LIMITS.textMax): string[] {
  if (max < 2) throw new RangeError("max must be at least 2");
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const cut = findCut(rest, max);
    const part = rest.slice(0, cut).replace(/\s+$/, "");
    if (part) parts.push(part);
    rest = rest.slice(cut).replace(/^\s+/, "");
  }
  if (rest) parts.push(rest);
  return parts;
}

const BOUNDARIES: readonly RegExp[] = [/\n\s*\n/g, /\n/g, /[.!?…](?=\s)/g, /\s/g];

function findCut(text: string, max: number): number {
  const window = text.slice(0, max + 1);
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
  const code = text.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}
