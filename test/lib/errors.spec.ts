import * as assert from "node:assert/strict";
import { toPipesError } from "../../src/lib/errors";

describe("lib/errors", function () {
  it("gives exceptions from code their own code, never NETWORK_ERROR", function () {
    assert.equal(toPipesError(new TypeError("x is not a function")).code, "INTERNAL_ERROR");
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error("no");
        },
        getPrototypeOf: () => {
          throw new Error("no");
        },
      },
    );
    assert.equal(toPipesError(hostile).code, "INTERNAL_ERROR");
  });
});
