/**
 * A bot on three Node-RED processes (issue 15, docs/high-availability.md), all real and on loopback:
 * Debian's redis-server coordinating them, Debian's nginx load-balancing the emulator's webhook
 * deliveries over them, and one socket (the lease holder's) for what falls back to the socket.
 * Under steady traffic: kill -9 a webhook instance, later kill -9 the socket leader, later restart
 * Redis. Reported: inbound lost (must be 0), replies sent twice, socket failover time, messages per
 * instance. `npm run test:cluster` runs the full size (1,000 conversations, 3,000 messages).
 */
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { accountHash } from "../../src/lib/coordination";
import { inCi } from "../support/browser";
import { useEmulator } from "../support/emulator-fixture";
import { reportFigures } from "../support/figures";
import { prepareUserDir, startNodeRed, type NodeRedProcess } from "../support/nodered-process";
import { freePort } from "../support/ports";
import { requireRedis, startRedis, type RedisServer } from "../support/redis";
import { poll, waitFor, waitUntil } from "../support/wait";
import { WEBHOOK_BOT_PATH, webhookBotFlow } from "../support/webhook-bot";

const KEY = "pk_test_cluster_000000000000000000";
const SECRET = "whsec_cluster_0123456789abcdef";
const POOL = "pn_cluster";
const PREFIX = "cluster:";
const FULL = process.env.CLUSTER_SIZE === "full";
const CONVERSATIONS = FULL ? 1000 : 150;
const MESSAGES = FULL ? 3000 : 450;
/** Paced, bounded traffic: one message every this many ms. */
const PACE_MS = FULL ? 10 : 20;

const botFlow = (emulatorUrl: string, redisUrl: string, instance: string) =>
  webhookBotFlow({
    emulatorUrl,
    apiKey: KEY,
    secret: SECRET,
    answer: "handled",
    withSocket: true,
    config: {
      redisUrl,
      redisPrefix: PREFIX,
      redisInstance: instance,
      redisLeaseSeconds: 1,
      tuning: { backoffBaseMs: 50, handshakeTimeoutMs: 2000 },
    },
  });

/** nginx balancing over the instances; POSTs are not retried by nginx itself (Pipes retries). */
async function startNginx(dir: string, ports: number[]): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  mkdirSync(join(dir, "temp"), { recursive: true });
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, "temp")};
  proxy_temp_path ${join(dir, "temp")};
  fastcgi_temp_path ${join(dir, "temp")};
  uwsgi_temp_path ${join(dir, "temp")};
  scgi_temp_path ${join(dir, "temp")};
  upstream nodered {
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=3s;`).join("\n")}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://nodered;
      proxy_connect_timeout 1s;
      proxy_read_timeout 15s;
    }
  }
}
`,
  );
  const binary = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p))!;
  const child = spawn(binary, ["-c", conf, "-p", dir], { stdio: "ignore" });
  await poll(
    "nginx",
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}); see ${join(dir, "error.log")}`);
      return fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      );
    },
    { everyMs: 50, timeoutMs: 10_000 },
  );
  return { port, child };
}

describe("a bot on three Node-RED instances (Redis + nginx)", function () {
  this.timeout(FULL ? 600_000 : 180_000);
  let work = "";
  let redis: RedisServer | undefined;
  let nginx: ChildProcess | undefined;
  const instances = new Map<string, NodeRedProcess>();

  // Registered before useEmulator(): everything we started stops before the emulator does.
  after(async function () {
    for (const nodeRed of instances.values()) await nodeRed.kill();
    if (nginx && nginx.exitCode === null) {
      const exited = waitFor(nginx, "exit", { what: "nginx to exit", timeoutMs: 10_000 });
      nginx.kill("SIGTERM");
      await exited;
    }
    await redis?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });
  const { emu } = useEmulator({
    nodeRed: false,
    awaitSocketsClosed: false,
    tenants: [{ userId: "user_cluster", apiKey: KEY, poolNumbers: [{ id: POOL, phoneNumber: "+15550006060" }] }],
    settings: { replyStatusDelayMs: 0 },
  });

  before(function () {
    const redisBinary = requireRedis(this);
    const hasNginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].some((p) => existsSync(p));
    if (!hasNginx) {
      if (inCi()) throw new Error("nginx is required in CI but was not found: apt-get install -y nginx");
      this.skip();
    }
    return (async () => {
      redis = await startRedis(redisBinary);
    })();
  });

  it("kill -9 a webhook instance, kill -9 the socket leader, restart Redis: nothing lost", async function () {
    work = mkdtempSync(join(tmpdir(), "pipes-cluster-"));
    const names = ["nr1", "nr2", "nr3"];
    const ports = await Promise.all(names.map(() => freePort()));
    await Promise.all(
      names.map(async (name, i) => {
        const userDir = join(work, name);
        mkdirSync(userDir);
        prepareUserDir(userDir, ports[i]);
        const nodeRed = await startNodeRed(userDir, ports[i], { INSTANCE: name, WORK_MS: "20" });
        await nodeRed.deploy(botFlow(emu.url, redis!.url, name));
        await nodeRed.waitForWebhookRoute(WEBHOOK_BOT_PATH);
        instances.set(name, nodeRed);
      }),
    );
    const lb = await startNginx(join(work, "nginx"), ports).catch((err: unknown) => {
      throw err;
    });
    nginx = lb.child;
    emu.setDelivery(POOL, { mode: "webhook", url: `http://127.0.0.1:${lb.port}${WEBHOOK_BOT_PATH}`, secret: SECRET });
    await waitUntil("one socket (the leader's)", () => emu.connections().length === 1 || undefined, emu, ["connection"], 15_000);

    const raw = createClient({ url: redis!.url });
    raw.on("error", () => undefined); // Redis restarts below: this reader just reconnects
    await raw.connect();
    const leaderKey = `${PREFIX}${accountHash(KEY, "user")}:leader`;
    const leaderName = async () => String(await raw.get(leaderKey)).replace(/#\d+$/, "");

    // Every attempt of every delivery, by message text (the emulator's own list keeps the last 500 only).
    const attempts = new Map<string, string[]>();
    const pending = new Set<string>();
    const textOf = new Map<string, string>();
    emu.on("webhook-attempt", ({ delivery, attempt }) => {
      const text = textOf.get(delivery.messageId) ?? delivery.messageId;
      attempts.set(text, [...(attempts.get(text) ?? []), String(attempt.status ?? attempt.error ?? "?")]);
    });
    emu.on("webhook-delivered", (delivery) => pending.delete(delivery.messageId));
    emu.on("webhook-failed", (delivery) => pending.delete(delivery.messageId));

    // Traffic: MESSAGES messages over CONVERSATIONS senders, paced; the faults at 1/3 and 2/3 of it.
    const texts: string[] = [];
    const figures: Record<string, number | string> = { conversations: CONVERSATIONS, messages: MESSAGES };
    let killedWebhookAt = 0;
    let failoverMs = -1;
    for (let i = 0; i < MESSAGES; i++) {
      const text = `m${i}`;
      texts.push(text);
      const inbound = emu.inject({ fromNumber: `+1555${String(1_000_000 + (i % CONVERSATIONS)).slice(1)}`, text });
      textOf.set(inbound.messageId, text);
      pending.add(inbound.messageId);
      if (i === Math.floor(MESSAGES / 3)) {
        const leader = await leaderName();
        const victim = names.find((n) => n !== leader && instances.has(n))!;
        await instances.get(victim)!.kill("SIGKILL");
        instances.delete(victim);
        killedWebhookAt = i;
        figures["killed webhook instance"] = victim;
      }
      if (i === Math.floor((2 * MESSAGES) / 3)) {
        const leader = await leaderName();
        const oldSockets = new Set(emu.connections().map((c) => c.connectionId));
        const killedAt = Date.now();
        await instances.get(leader)!.kill("SIGKILL");
        instances.delete(leader);
        figures["killed socket leader"] = leader;
        // The survivor takes the lease and opens a socket of its own: measured while traffic goes on.
        void waitUntil(
          "a new socket",
          () => emu.connections().some((c) => !oldSockets.has(c.connectionId)) || undefined,
          emu,
          ["connection"],
          30_000,
        ).then(
          () => (failoverMs = Date.now() - killedAt),
          () => undefined,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
    await redis!.restart();
    figures["killed webhook instance after message"] = killedWebhookAt;

    // Every delivery ended (delivered, or failed over to the socket), then every message answered.
    await waitUntil(
      "every webhook delivery to end",
      () => pending.size === 0 || undefined,
      emu,
      ["webhook-delivered", "webhook-failed"],
      FULL ? 300_000 : 120_000,
    );
    const replies = () => {
      const counts = new Map<string, number>();
      const byInstance = new Map<string, number>();
      for (const sent of emu.sent()) {
        const match = /^ok (m\d+) \((nr\d)\)$/.exec(String(sent.text));
        if (!match) continue;
        counts.set(match[1], (counts.get(match[1]) ?? 0) + 1);
        byInstance.set(match[2], (byInstance.get(match[2]) ?? 0) + 1);
      }
      return { counts, byInstance };
    };
    await waitUntil(
      "a reply to every message",
      () => texts.every((t) => replies().counts.has(t)) || undefined,
      emu,
      ["sent"],
      60_000,
    ).catch(() => undefined);
    const { counts, byInstance } = replies();
    const lost = texts.filter((t) => !counts.has(t));
    const twice = [...counts.values()].filter((n) => n > 1).length;
    Object.assign(figures, {
      "inbound lost": lost.length,
      "replies sent twice": twice,
      "socket failover (ms)": failoverMs,
      "webhook deliveries retried": [...attempts.values()].filter((a) => a.length > 1).length,
      "webhook deliveries failed over to the socket": emu.webhookFailures().length,
      ...Object.fromEntries(names.map((n) => [`handled by ${n}`, byInstance.get(n) ?? 0])),
    });
    reportFigures("three Node-RED instances, Redis and nginx", "cluster.json", { [FULL ? "full" : "npm test"]: figures });
    raw.destroy();
    assert.deepEqual(
      lost.slice(0, 20).map((t) => `${t}: ${(attempts.get(t) ?? []).join(",")}`),
      [],
      `${lost.length} inbound messages never answered (with their webhook attempts)`,
    );
    assert.ok(failoverMs >= 0, "a surviving instance took the socket over");
    // A reply can go out twice only for a message in flight at a kill instant (reply sent, answer lost).
    assert.ok(twice <= 10, `${twice} replies sent twice`);
  });
});
