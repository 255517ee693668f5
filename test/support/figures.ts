import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Figures a suite measured, by scenario: printed as a small table and written to test-results/<file>. */
export type Figures = Record<string, Record<string, number | string>>;

export function reportFigures(title: string, file: string, figures: Figures): void {
  const lines = ["", `  ${title}`];
  for (const [scenario, values] of Object.entries(figures)) {
    lines.push(`    ${scenario}`);
    for (const [name, value] of Object.entries(values)) lines.push(`      ${name}: ${value}`);
  }
  console.log(lines.join("\n"));
  const dir = join(__dirname, "..", "..", "test-results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), `${JSON.stringify(figures, null, 2)}\n`);
}
