/** A template text's variables, `{{1}}` to `{{n}}` (Meta's positional form), and filling them in. */
const VARIABLE = /\{\{\s*(\d+)\s*\}\}/g;

/** The variable numbers in a text, in order of first use. */
export function variablesOf(text: string | undefined): number[] {
  const seen: number[] = [];
  for (const match of (text ?? "").matchAll(VARIABLE)) {
    const n = Number(match[1]);
    if (!seen.includes(n)) seen.push(n);
  }
  return seen;
}

/** `{{n}}` replaced by values[n - 1]; a variable without a value stays as it is. */
export function fill(text: string, values: readonly string[]): string {
  return text.replace(VARIABLE, (whole, n: string) => values[Number(n) - 1] ?? whole);
}
