/**
 * The holes a hostile test found (issue 10), each through the real nodes in a Node-RED runtime
 * against the emulator: settings out of range, a socket pipes-reply with no pipes-in, replies lost
 * without a word when their config node goes away, a password in the proxy URL, unbounded media
 * downloads, and a TLS failure that was not about certificates.
 */
import * as assert from "node:assert/strict";
import type { EventEmitter } from "node:events";
import type { InboundMessage } from "../../src/lib/protocol";
import { useEmulator } from "../support/emulator-fixture";
import { configNode, firstInput, helper, loadFlow, statuses, waitForStatus } from "../support/nodered";
import { collect, waitFor, waitUntil } from "../support/wait";

const KEY = "pk_test_hardening_0000000000000000";
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(64, 1)]);

type LogEntry = { level?: number; msg?: unknown };
const WARN = 30;
/** Every line Node-RED logged so far (the helper spies on the log). */
const logLines = (): LogEntry[] => (helper.log() as unknown as { args: LogEntry[][] }).args.map((a) => a[0]);

describe("hardening: holes a hostile test found", function () {
  this.timeout(30_000);
  const { emu } = useEmulator({
    tenants: [{ userId: "user_h", apiKey: KEY, poolNumbers: [{ id: "pn_h1", phoneNumber: "+15550000009" }] }],
    settings: { replyStatusDelayMs: 0, storageDelayMs: 0 },
  });
  let frames = 0;
  emu.on("client-frame", () => frames++);

  const lastStatus = (id: string) => statuses(id).at(-1)?.text ?? "";

  /** The first msg on output 1 ("ok") or output 2 ("failed"). */
  async function outcome(timeoutMs = 5000): Promise<{ output: 1 | 2; msg: any }> {
    const { id, msg } = await firstInput(["ok", "failed"], timeoutMs);
    return { output: id === "ok" ? 1 : 2, msg };
  }

  describe("settings are checked once, with a clear problem on the node", function () {
    it("a pipes-reply time-out beyond Node's timers (2,147,484 s) is refused, not fired at once", async function () {
      const conv = emu.inject({ fromNumber: "+15551000001", text: "hi" });
      await loadFlow(
        [
          configNode(emu.url),
          { id: "reply", type: "pipes-reply", connection: "cfg", timeout: 2_147_484, wires: [["ok"], ["failed"]] },
          { id: "ok", type: "helper" },
          { id: "failed", type: "helper" },
        ],
        KEY,
      );
      assert.equal(statuses("reply")[0]?.fill, "red");
      assert.match(lastStatus("reply"), /timeout must be a number above 0 and at most 86400 \(got '2147484'\)/);
      const before = frames;
      const result = outcome();
      helper.getNode("reply").receive({ payload: "hello", pipes: conv });
      const { output, msg } = await result;
      assert.equal(output, 2);
      assert.equal(msg.error.code, "INVALID_CONFIG");
      assert.match(msg.error.message, /timeout/);
      assert.equal(frames, before, "nothing was sent");
      assert.equal(emu.sent().length, 0);
    });

    it("a pipes-send-media time-out of 1e10 s is refused", async function () {
      const conv = emu.inject({ fromNumber: "+15551000002", text: "hi" });
      await loadFlow(
        [
          configNode(emu.url),
          { id: "media", type: "pipes-send-media", connection: "cfg", timeout: "1e10", wires: [["ok"], ["failed"]] },
          { id: "ok", type: "helper" },
          { id: "failed", type: "helper" },
        ],
        KEY,
      );
      assert.match(lastStatus("media"), /timeout must be/);
      const result = outcome();
      helper.getNode("media").receive({ payload: PNG, pipes: conv });
      const { output, msg } = await result;
      assert.equal(output, 2);
      assert.equal(msg.error.code, "INVALID_CONFIG");
      assert.equal(emu.sent().length, 0);
    });

    it("outboxLimit '0.5' is a configuration problem shown on every node, not a queue that refuses everything", async function () {
      await loadFlow(
        [
          configNode(emu.url, { outboxLimit: "0.5" }),
          { id: "in", type: "pipes-in", connection: "cfg", wires: [[]] },
          { id: "reply", type: "pipes-reply", connection: "cfg", wires: [["ok"], ["failed"]] },
          { id: "ok", type: "helper" },
          { id: "failed", type: "helper" },
        ],
        KEY,
      );
      for (const id of ["in", "reply"])
        assert.match(lastStatus(id), /outboxLimit must be a whole number from 1 to 1000000 \(got '0.5'\)/, id);
      const result = outcome();
      helper.getNode("reply").receive({ payload: "x", pipes: { conversationId: "c", poolNumberId: "p", fromNumber: "+1" } });
      const { output, msg } = await result;
      assert.equal(output, 2);
      assert.equal(msg.error.code, "NOT_CONNECTED");
      assert.match(msg.error.message, /outboxLimit/);
      assert.equal(emu.connections().length, 0);
    });

    it("hidden tuning values that are not numbers are a configuration problem, not a crash", async function () {
      await loadFlow(
        [
          configNode(emu.url, { tuning: { handshakeTimeoutMs: "abc", backoffBaseMs: 20 } }),
          { id: "in", type: "pipes-in", connection: "cfg", wires: [[]] },
        ],
        KEY,
      );
      assert.match(lastStatus("in"), /tuning.handshakeTimeoutMs must be a number from 1 to 2147483647 \(got 'abc'\)/);
      await helper.unload();
      await loadFlow([configNode(emu.url, { tuning: "fast please" }), { id: "in", type: "pipes-in", connection: "cfg", wires: [[]] }], KEY);
      assert.match(lastStatus("in"), /tuning must be/);
    });

    it("a pipes-in size limit over 4096 MB is refused", async function () {
      await loadFlow(
        [configNode(emu.url), { id: "in", type: "pipes-in", connection: "cfg", downloadMedia: true, maxMediaMB: 1e9, wires: [[]] }],
        KEY,
      );
      assert.match(lastStatus("in"), /maxMediaMB must be a number above 0 and at most 4096/);
    });
  });

  describe("a socket pipes-reply with no pipes-in", function () {
    it("does not open a user-scoped socket (it would drain the offline queue for nobody): replies go over REST until a pipes-in starts", async function () {
      const queued = [1, 2, 3].map((n) => emu.inject({ fromNumber: "+15552000000", text: `queued ${n}` }));
      assert.equal(emu.queueSize(), 3);
      const replyOnly = [
        configNode(emu.url),
        { id: "reply", type: "pipes-reply", connection: "cfg", timeout: 3, wires: [["ok"], ["failed"]] },
        { id: "ok", type: "helper" },
        { id: "failed", type: "helper" },
      ];
      await loadFlow(replyOnly, KEY);
      await waitForStatus("reply", "replies over REST (no pipes-in)");
      let result = outcome();
      helper.getNode("reply").receive({ payload: "answered without a socket", pipes: queued[0] });
      let done = await result;
      assert.equal(done.output, 1, JSON.stringify(done.msg.error));
      assert.equal(done.msg.sent.transport, "rest");
      assert.equal(emu.connections().length, 0, "no socket was opened");
      assert.equal(emu.queueSize(), 3, "the offline queue is untouched");

      // A pipes-in joins (partial deploy): the socket opens, the queue drains into it, replies use the socket.
      const received: InboundMessage[] = [];
      await helper.setFlows(
        [...replyOnly, { id: "in", type: "pipes-in", connection: "cfg", wires: [["inbox"]] }, { id: "inbox", type: "helper" }] as never,
        "nodes",
        { cfg: { apiKey: KEY } },
      );
      (helper.getNode("inbox") as unknown as EventEmitter).on("input", (msg: { pipes: InboundMessage }) => received.push(msg.pipes));
      await waitUntil(
        "the queued messages drained into pipes-in",
        () => (received.length === 3 ? received : undefined),
        helper.getNode("inbox"),
        ["input"],
      );
      assert.deepEqual(
        received.map((m) => m.text),
        ["queued 1", "queued 2", "queued 3"],
      );
      await waitForStatus("reply", "connected (user)");
      result = outcome();
      helper.getNode("reply").receive({ payload: "now over the socket", pipes: queued[1] });
      done = await result;
      assert.equal(done.output, 1, JSON.stringify(done.msg.error));
      assert.equal(done.msg.sent.transport, "ws");
    });
  });

  describe("replies queued when their config node is removed by a full deploy", function () {
    it("are reported in the log (the nodes wired to output 2 are stopping too), every one of them", async function () {
      const conv = emu.inject({ fromNumber: "+15553000000", text: "hi" });
      emu.configure({ replyStatusDelayMs: 60_000 }); // the first reply waits for its status; the rest queue behind it
      const flow = [
        configNode(emu.url),
        { id: "in", type: "pipes-in", connection: "cfg", wires: [[]] },
        { id: "reply", type: "pipes-reply", connection: "cfg", timeout: 30, wires: [["ok"], ["failed"]] },
        { id: "ok", type: "helper" },
        { id: "failed", type: "helper" },
      ];
      await loadFlow(flow, KEY);
      await waitForStatus("reply", "connected (user)");
      const firstFrame = waitFor(emu, "client-frame", { what: "the first reply at the emulator" });
      for (let i = 0; i < 50; i++) helper.getNode("reply").receive({ payload: `reply ${i}`, pipes: conv });
      await firstFrame;
      // node.warn of the old pipes-reply (the helper emits "call:warn" on the node for each call).
      const replyNode = helper.getNode("reply") as unknown as EventEmitter;
      const lines: string[] = [];
      replyNode.on("call:warn", (call: { args: unknown[] }) => lines.push(String(call.args[0])));
      const unsent = () =>
        lines
          .filter((l) => /not sent because the node or its connection stopped/.test(l))
          .reduce((sum, l) => sum + Number(/^(\d+) message/.exec(l)?.[1] ?? 0), 0);
      // A full deploy of a flow without the config node and without the reply node.
      await helper.setFlows([{ id: "other", type: "helper" }] as never, "full", {});
      await waitUntil(`50 unsent replies in the log (${lines.join(" | ")})`, () => unsent() === 50 || undefined, replyNode, ["call:warn"]);
      assert.ok(
        logLines().some((l) => l.level === WARN && /50 message|\d+ message\(s\) not sent/.test(String(l.msg))),
        "the warnings reached Node-RED's log",
      );
      assert.ok(
        lines.some((l) => /STOPPED ×\d+/.test(l)),
        lines.join("\n"),
      );
    });
  });

  describe("a password typed into the proxy URL", function () {
    it("is refused with a clear problem, and never shown", async function () {
      await loadFlow(
        [
          configNode(emu.url, { proxyUrl: "http://alice:s3cr3t-pw@127.0.0.1:3128" }),
          { id: "in", type: "pipes-in", connection: "cfg", wires: [[]] },
        ],
        KEY,
      );
      assert.match(lastStatus("in"), /the proxy URL contains a user or password/);
      assert.equal(emu.connections().length, 0);
      const visible = JSON.stringify(statuses("in")) + JSON.stringify(logLines());
      assert.ok(!visible.includes("s3cr3t-pw"), "the password appears in a status or the log");
    });
  });

  describe("media downloads are bounded per connection", function () {
    async function downloadBurst(
      config: Record<string, unknown>,
      images: number,
      bytes: number,
    ): Promise<{ maxActive: number; received: any[] }> {
      emu.configure({ storageDelayMs: 20 });
      let maxActive = 0;
      const onStorage = ({ active }: { active: number }) => (maxActive = Math.max(maxActive, active));
      emu.on("storage", onStorage);
      try {
        await loadFlow(
          [
            configNode(emu.url, config),
            { id: "in", type: "pipes-in", connection: "cfg", downloadMedia: true, maxMediaMB: 4, wires: [["inbox"]] },
            { id: "inbox", type: "helper" },
          ],
          KEY,
        );
        await waitForStatus("in", "connected (user)");
        const all = collect<any>(helper.getNode("inbox"), "input", images, 20_000);
        const image = Buffer.concat([PNG, Buffer.alloc(bytes - PNG.length, 7)]);
        for (let i = 0; i < images; i++)
          emu.inject({
            fromNumber: `+1555400${String(i % 10).padStart(4, "0")}`,
            media: { data: image, mimeType: "image/png" },
            text: `image ${i}`,
          });
        const received = await all;
        return { maxActive, received };
      } finally {
        emu.off("storage", onStorage);
      }
    }

    it("at most 4 at once by default; every image still arrives, in order per sender", async function () {
      const { maxActive, received } = await downloadBurst({}, 120, 2048);
      assert.ok(maxActive <= 4, `${maxActive} downloads ran at once`);
      assert.ok(maxActive >= 2, `downloads did not overlap at all (${maxActive}): the test proves nothing`);
      assert.ok(received.every((m) => Buffer.isBuffer(m.payload) && m.payload.length === 2048));
      const bySender = new Map<string, number[]>();
      for (const m of received)
        bySender.set(m.pipes.fromNumber, [...(bySender.get(m.pipes.fromNumber) ?? []), Number(/\d+$/.exec(m.pipes.text)![0])]);
      for (const [sender, order] of bySender)
        assert.deepEqual(
          order,
          [...order].sort((a, b) => a - b),
          `out of order for ${sender}`,
        );
    });

    it("the concurrency and the memory budget are settings of the config node", async function () {
      let run = await downloadBurst({ downloadConcurrency: 2 }, 30, 2048);
      assert.equal(run.maxActive, 2, `${run.maxActive} downloads ran at once with downloadConcurrency 2`);
      assert.equal(run.received.length, 30);
      await helper.unload();
      // 1 MB of budget, 400 KB images: two fit at once, a third must wait.
      run = await downloadBurst({ downloadBufferMB: 1 }, 12, 400 * 1024);
      assert.ok(run.maxActive >= 2, `downloads did not overlap (${run.maxActive})`);
      assert.ok(run.maxActive <= 2, `${run.maxActive} downloads of 400 KB ran at once with a 1 MB budget`);
      assert.equal(run.received.length, 12);
    });
  });

  describe("TLS failures that are not about certificates", function () {
    it("an https:// URL to a plain HTTP server says so instead of 'certificate not trusted'", async function () {
      await loadFlow(
        [configNode(emu.url.replace("http://", "https://")), { id: "in", type: "pipes-in", connection: "cfg", wires: [[]] }],
        KEY,
      );
      const status = await waitForStatus("in", /^TLS|reconnecting/)
        .then(() => waitForStatus("in", /^TLS/, 3000))
        .catch(() => assert.fail(`statuses: ${JSON.stringify(statuses("in"))}`));
      assert.equal(status.text, "TLS: the server does not answer in TLS (an http:// server?)");
      assert.equal(status.fill, "red");
    });
  });
});
