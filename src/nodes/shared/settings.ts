import { readNumberSettings, type NumberSettingName, type SettingProblem } from "../../lib/settings";
import type { Translate } from "./i18n";

/** A refused setting in the runtime's language, e.g. "timeout must be a number above 0 and at most 86400 (got '9e9')". */
export function settingProblemText(common: Translate, problem: SettingProblem): string {
  const { rule } = problem;
  const key = rule.integer ? "problems.setting-integer" : rule.minExclusive ? "problems.setting-above" : "problems.setting-range";
  return common(key, { setting: problem.setting, min: rule.min, max: rule.max, value: problem.value });
}

/** A node's numeric settings (src/lib/settings.ts), or the text of the first one out of range. */
export function nodeNumbers<K extends NumberSettingName>(
  common: Translate,
  def: Partial<Record<K, unknown>>,
  names: readonly K[],
): { values: Record<K, number>; problem?: string } {
  const { values, problem } = readNumberSettings(def, names);
  return { values, problem: problem && settingProblemText(common, problem) };
}
