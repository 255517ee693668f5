import * as assert from "node:assert/strict";
import { PipesError } from "../../src/lib/errors";

/** The code of the PipesError `fn` throws; fails the test if it throws something else or nothing. */
export function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PipesError, `expected a PipesError, got ${String(err)}`);
    return err.code;
  }
  assert.fail("expected a PipesError");
}
