/**
 * The emulator answers only this machine: a foreign Host (DNS rebinding) or a foreign Origin (a web
 * page elsewhere) is refused on every route and on the socket upgrade; programs and its own page work.
 */
import * as assert from "node:assert/strict";
import { request } from "node:http";
import WebSocket from "ws";
import { DEMO_API_KEY } from "../../src/emulator";
import { useEmulator } from "../support/emulator-fixture";

function get(url: string, path: string, headers: Record<string, string>, method = "GET"): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("error", reject);
    req.end(method === "POST" ? JSON.stringify({ fromNumber: "+1", text: "x" }) : undefined);
  });
}

function upgrade(url: string, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws?apiKey=${DEMO_API_KEY}`, origin ? { origin } : {});
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once("error", () => undefined);
  });
}

describe("emulator: only this machine", function () {
  const { emu } = useEmulator({ nodeRed: false });

  it("refuses a foreign Host on every route (DNS rebinding) and a foreign Origin", async function () {
    const port = new URL(emu.url).port;
    assert.equal(await get(emu.url, "/_emulator/state", { host: `evil.example:${port}` }), 403);
    assert.equal(
      await get(
        emu.url,
        "/_emulator/inbound",
        { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, "content-type": "application/json" },
        "POST",
      ),
      403,
    );
    assert.equal(
      await get(emu.url, "/_emulator/inbound", { origin: "http://evil.example", "content-type": "application/json" }, "POST"),
      403,
    );
    assert.equal(await get(emu.url, "/_emulator/events", { origin: "https://evil.example" }), 403);
    assert.equal(emu.sent().length + emu.queueSize(), 0, "nothing was injected");
  });

  it("serves programs (no Origin), loopback names and its own page's origin", async function () {
    const port = new URL(emu.url).port;
    assert.equal(await get(emu.url, "/_emulator/state", {}), 200);
    assert.equal(await get(emu.url, "/_emulator/state", { host: `localhost:${port}` }), 200);
    assert.equal(await get(emu.url, "/_emulator/inbound", { origin: emu.url, "content-type": "application/json" }, "POST"), 200);
  });

  it("refuses a socket upgrade from another site's page, accepts programs and its own page", async function () {
    assert.equal(await upgrade(emu.url, "http://evil.example"), 403);
    assert.equal(await upgrade(emu.url), 101);
    assert.equal(await upgrade(emu.url, emu.url), 101);
  });
});
