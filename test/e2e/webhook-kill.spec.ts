/**
 * The reason "Answer Pipes: when handled" exists (docs/decisions/0053): a real Node-RED process is
 * killed (SIGKILL) after its pipes-webhook-in received a message and before the flow replied. The
 * emulator's documented retries (attempts at 0, +2 and +8 s) then reach a new Node-RED on the same
 * port and user dir, which replies: the user gets exactly one reply. With the default ("at once")
 * the same kill loses the message: Pipes had its 200 and never delivers it again.
 */
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useEmulator } from "../support/emulator-fixture";
import { prepareUserDir, startNodeRed, type NodeRedProcess } from "../support/nodered-process";
import { freePort } from "../support/ports";
import { reportFigures } from "../support/figures";
import { waitUntil } from "../support/wait";
import { WEBHOOK_BOT_PATH, webhookBotFlow } from "../support/webhook-bot";

const KEY = "pk_test_webhook_kill_0000000000000";
const SECRET = "whsec_kill_test_0123456789";
const POOL = "pn_kill";

const botFlow = (emulatorUrl: string, answer: "handled" | "accepted") =>
  webhookBotFlow({ emulatorUrl, apiKey: KEY, secret: SECRET, answer });

describe("webhook delivery survives a Node-RED killed between receiving and replying", function () {
  this.timeout(90_000);
  let userDir = "";
  const running: NodeRedProcess[] = [];

  // Registered before useEmulator(): every Node-RED is gone before the emulator stops.
  afterEach(async function () {
    for (const nodeRed of running.splice(0)) await nodeRed.kill();
    rmSync(userDir, { recursive: true, force: true });
  });
  const { emu } = useEmulator({
    nodeRed: false,
    tenants: [{ userId: "user_kill", apiKey: KEY, poolNumbers: [{ id: POOL, phoneNumber: "+15550007777" }] }],
  });

  /** Node-RED A receives one message and is killed while holding it; B starts on the same port and user dir. */
  async function killWhileHolding(answer: "handled" | "accepted") {
    userDir = mkdtempSync(join(tmpdir(), "pipes-kill-"));
    const port = await freePort();
    prepareUserDir(userDir, port);
    const first = await startNodeRed(userDir, port, { HOLD: "1" });
    running.push(first);
    await first.deploy(botFlow(emu.url, answer));
    await first.waitForWebhookRoute(WEBHOOK_BOT_PATH);
    emu.setDelivery(POOL, { mode: "webhook", url: `${first.url}${WEBHOOK_BOT_PATH}`, secret: SECRET });

    const inbound = emu.inject({ fromNumber: "+15550001234", fromName: "Ana", text: "see you at 10" });
    await first.waitForLog("the flow holding the message", new RegExp(`holding ${inbound.messageId}`));
    await first.kill("SIGKILL");
    // The restarted instance: same user dir (the deployed flows and their credentials), same port.
    running.push(await startNodeRed(userDir, port, { HOLD: "0" }));
    return inbound;
  }

  it('"when handled": Pipes retries into the restarted Node-RED, which replies exactly once', async function () {
    const inbound = await killWhileHolding("handled");
    const delivery = await waitUntil(
      "the delivery to end",
      () => emu.webhookDeliveries({ conversationId: inbound.conversationId }).find((d) => d.state !== "pending"),
      emu,
      ["webhook-delivered", "webhook-failed"],
      30_000,
    );
    await waitUntil("the reply", () => emu.sent({ conversationId: inbound.conversationId })[0], emu, ["sent"], 10_000);
    assert.deepEqual(
      emu.sent({ conversationId: inbound.conversationId }).map((m) => m.text),
      ["ok see you at 10"],
    );
    assert.equal(delivery.state, "delivered");
    const attempts = delivery.attempts.map((a) => ({ ok: a.ok, status: a.status }));
    assert.ok(attempts.length >= 2 && !attempts[0].ok && attempts.at(-1)!.ok, JSON.stringify(delivery.attempts));
    assert.equal(attempts[0].status, undefined, "the killed instance never answered the first attempt");
  });

  it('"at once" (the default): the same kill loses the message, because Pipes already had its 200', async function () {
    const inbound = await killWhileHolding("accepted");
    const [delivery] = emu.webhookDeliveries({ conversationId: inbound.conversationId });
    assert.deepEqual(
      { state: delivery.state, attempts: delivery.attempts.map((a) => a.status) },
      { state: "delivered", attempts: [200] },
      "delivered once: nothing will deliver it again",
    );
    assert.deepEqual(emu.sent({ conversationId: inbound.conversationId }), []);
  });

  it('"when handled" under traffic: kill -9 mid-traffic, every message answered, none lost', async function () {
    userDir = mkdtempSync(join(tmpdir(), "pipes-kill-"));
    const port = await freePort();
    prepareUserDir(userDir, port);
    // 50 ms of "work" per message: at 25 messages a second one or two are in the flow at any instant.
    const env = { HOLD: "0", WORK_MS: "50" };
    const first = await startNodeRed(userDir, port, env);
    running.push(first);
    await first.deploy(botFlow(emu.url, "handled"));
    await first.waitForWebhookRoute(WEBHOOK_BOT_PATH);
    emu.setDelivery(POOL, { mode: "webhook", url: `${first.url}${WEBHOOK_BOT_PATH}`, secret: SECRET });

    const SENDERS = 20;
    const TOTAL = 100;
    const texts: string[] = [];
    const conversations = new Set<string>();
    let injected = 0;
    // Paced traffic (40 ms apart), bounded: TOTAL messages from SENDERS numbers.
    const traffic = new Promise<void>((resolve) => {
      const next = () => {
        const text = `m${injected}`;
        texts.push(text);
        conversations.add(emu.inject({ fromNumber: `+1555010${String(injected % SENDERS).padStart(4, "0")}`, text }).conversationId);
        injected++;
        if (injected < TOTAL) setTimeout(next, 40);
        else resolve();
      };
      next();
    });
    const repliesTo = () => {
      const counts = new Map<string, number>();
      for (const conversationId of conversations)
        for (const sent of emu.sent({ conversationId })) {
          const text = String(sent.text).replace("ok ", "");
          counts.set(text, (counts.get(text) ?? 0) + 1);
        }
      return counts;
    };
    await waitUntil("40 replies before the kill", () => repliesTo().size >= 40 || undefined, emu, ["sent"], 20_000);
    const killedAt = injected;
    await first.kill("SIGKILL");
    const restart = Date.now();
    running.push(await startNodeRed(userDir, port, env));
    const restartMs = Date.now() - restart;
    await traffic;
    // Every delivery ended (delivered, or failed after its last attempt), then count.
    await waitUntil(
      "every delivery to end",
      () => emu.webhookDeliveries().filter((d) => d.state === "pending").length === 0 || undefined,
      emu,
      ["webhook-delivered", "webhook-failed"],
      40_000,
    );
    const counts = repliesTo();
    const lost = texts.filter((t) => !counts.has(t));
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    const retried = emu.webhookDeliveries().filter((d) => d.attempts.length > 1).length;
    reportFigures("webhook delivery, kill -9 under traffic", "webhook-kill.json", {
      "answer when handled": {
        messages: TOTAL,
        "killed after message": killedAt,
        "Node-RED restart (ms)": restartMs,
        "deliveries retried": retried,
        lost: lost.length,
        "replied twice": duplicated,
        "failed to the socket queue": emu.webhookFailures().length,
      },
    });
    assert.deepEqual(lost, [], "every message got its reply");
    assert.equal(emu.webhookFailures().length, 0);
    assert.ok(retried >= 1, "the kill hit at least one delivery in flight");
    // A duplicate needs the kill to fall between a reply reaching Pipes and the 200 leaving: possible, rare.
    assert.ok(duplicated <= retried, `replied twice ${duplicated}, retried ${retried}`);
  });
});
