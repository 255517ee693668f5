/**
 * The template picker's admin endpoint on a Node-RED with adminAuth (a real process): refused
 * without a token or with a user lacking read permission, answered with a reader's token, and the
 * App key is in no answer.
 */
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_APP_NUMBER, DEMO_APP_KEY } from "../../src/emulator";
import { useEmulator } from "../support/emulator-fixture";
import { prepareUserDir, startNodeRed, type NodeRedProcess } from "../support/nodered-process";
import { freePort } from "../support/ports";

/** bcrypt of "pipes-test-password" (Node-RED's adminAuth wants the hash). */
const PASSWORD = "pipes-test-password";
const HASH = "$2b$08$B7UUE4si78bEgO7E5qDSqOGKIFcPbUFZ8//qSoi81yuH87YDfBb7S";

describe("template endpoint behind adminAuth", function () {
  this.timeout(60_000);
  let nodeRed: NodeRedProcess | undefined;
  let userDir = "";
  after(async function () {
    await nodeRed?.kill("SIGINT");
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });
  const { emu } = useEmulator({ nodeRed: false, awaitSocketsClosed: false });

  async function token(username: string, scope: string): Promise<string> {
    const response = await fetch(`${nodeRed!.url}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_id: "node-red-admin", grant_type: "password", scope, username, password: PASSWORD }),
    });
    assert.equal(response.status, 200, `login as ${username}`);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  it("needs a token with read permission, and never answers the key", async function () {
    userDir = mkdtempSync(join(tmpdir(), "pipes-auth-"));
    const port = await freePort();
    prepareUserDir(userDir, port, {
      adminAuth: {
        type: "credentials",
        users: [
          { username: "admin", password: HASH, permissions: "*" },
          // Allowed to read flows, not our config node type.
          { username: "viewer", password: HASH, permissions: ["flows.read"] },
        ],
      },
    });
    nodeRed = await startNodeRed(userDir, port);
    const admin = await token("admin", "*");
    await nodeRed.deploy(
      [{ id: "cfg", type: "pipes-config", name: "App", baseUrl: emu.url, scope: "user", credentials: { apiKey: DEMO_APP_KEY } }],
      admin,
    );
    const path = `${nodeRed.url}/pipes-bot/templates/cfg?poolNumberId=${DEFAULT_APP_NUMBER.id}`;
    assert.equal((await fetch(path)).status, 401, "no token");
    const viewer = await token("viewer", "flows.read");
    assert.equal((await fetch(path, { headers: { authorization: `Bearer ${viewer}` } })).status, 401, "no pipes-config.read");
    const answered = await fetch(path, { headers: { authorization: `Bearer ${admin}` } });
    const text = await answered.text();
    assert.equal(answered.status, 200, text);
    assert.ok(text.includes("appointment_reminder"));
    assert.ok(!text.includes(DEMO_APP_KEY));
  });
});
