/**
 * Two PipesClients of one account (two Node-RED instances, in miniature) coordinated through a
 * real redis-server, against the emulator: one socket between them, every message handled by
 * exactly one, replies from the standby over REST, and the standby taking the socket over within a
 * lease when the leader stops.
 */
import * as assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { PipesClient } from "../../src/lib/client";
import type { InboundMessage } from "../../src/lib/protocol";
import { useEmulator } from "../support/emulator-fixture";
import { requireRedis, startRedis, type RedisServer } from "../support/redis";
import { waitUntil } from "../support/wait";

const KEY = "pk_test_coordinated_client_0000000";
const LEASE = 300;

describe("PipesClient coordinated through Redis", function () {
  this.timeout(20_000);
  let redis: RedisServer;
  const clients: PipesClient[] = [];
  before(async function () {
    redis = await startRedis(requireRedis(this));
  });
  after(async function () {
    await redis?.stop();
  });
  // Registered before useEmulator(): the clients are stopped before the fixture counts sockets.
  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });
  const { emu, sockets } = useEmulator({
    nodeRed: false,
    tenants: [{ userId: "user_c", apiKey: KEY }],
    settings: { replyStatusDelayMs: 0 },
  });

  it("holds one socket between two instances; each message is handled once; the standby takes over", async function () {
    const prefix = `t${Date.now()}:`;
    const got: string[] = [];
    const arrivals = new EventEmitter();
    const make = (name: string) => {
      const client = new PipesClient({
        baseUrl: emu.url,
        apiKey: KEY,
        scope: "user",
        backoffBaseMs: 10,
        idleCloseMs: 50,
        coordination: { url: redis.url, prefix, instance: name, leaseMs: LEASE },
      });
      clients.push(client);
      client.acquireSocket({}, "receiver");
      client.addReceiver((message: InboundMessage) => {
        got.push(`${name}:${message.text}`);
        arrivals.emit("message");
      });
      return client;
    };
    const a = make("a");
    const b = make("b");
    await sockets(1);
    // Each settles on a role (its client says so with a "state" event): exactly one leads.
    await Promise.all(
      [a, b].map((c) =>
        waitUntil("a role", () => c.coordination?.role === "leader" || c.coordination?.role === "standby" || undefined, c, ["state"]),
      ),
    );
    assert.equal([a, b].filter((c) => c.coordination?.role === "leader").length, 1);
    const [leader, standby] = a.coordination?.role === "leader" ? [a, b] : [b, a];
    assert.equal(standby.coordination?.role, "standby");
    assert.equal(standby.repliesOverSocket, false, "the standby replies over REST");

    for (let i = 0; i < 10; i++) emu.inject({ fromNumber: "+15550007001", text: `m${i}` });
    await waitUntil("10 messages", () => got.length >= 10 || undefined, arrivals, ["message"]);
    assert.equal(new Set(got.map((g) => g.split(":")[1])).size, 10, "each once");

    // The standby replies into a conversation (by REST): nothing needs the socket for that.
    const { conversationId } = emu.inject({ fromNumber: "+15550007002", text: "reply please" });
    const sent = await standby.send({ conversationId, text: "from the standby" });
    assert.equal(sent.success, true);

    // The leader goes away: the standby opens the socket within a lease, and messages keep coming.
    const left = Date.now();
    await leader.stop();
    await waitUntil("the standby leading", () => standby.coordination?.role === "leader" || undefined, standby, ["state"], LEASE * 4);
    await sockets(1);
    const failover = Date.now() - left;
    got.length = 0;
    emu.inject({ fromNumber: "+15550007001", text: "after failover" });
    await waitUntil("the message after failover", () => got.length > 0 || undefined, arrivals, ["message"]);
    assert.deepEqual(got, [`${standby === a ? "a" : "b"}:after failover`]);
    assert.ok(failover < LEASE * 4, `failover took ${failover} ms`);
  });

  it("a webhook copy another instance holds is asked about again on its next delivery, not taken for a repeat", async function () {
    const prefix = `h${Date.now()}:`;
    const make = (name: string) => {
      const client = new PipesClient({
        baseUrl: emu.url,
        apiKey: KEY,
        scope: "user",
        coordination: { url: redis.url, prefix, instance: name, leaseMs: LEASE },
      });
      clients.push(client);
      return client;
    };
    const a = make("a");
    const b = make("b");
    await Promise.all([a, b].map((c) => waitUntil("Redis up", () => c.coordination?.redisUp || undefined, c, ["state"])));
    const message = {
      messageId: "msg_held",
      conversationId: "conv_h",
      poolNumberId: "pn",
      fromNumber: "+1555",
      timestamp: "",
      type: "text",
    };
    assert.equal(await a.claimInbound(message, 5000), "mine");
    assert.equal(await b.claimInbound(message, 5000), "elsewhere", "a is working on it");
    await a.settleClaim("msg_held", false); // a answered 503: the next delivery may run anywhere
    assert.equal(await b.claimInbound(message, 5000), "mine", "b's earlier look did not mark it as a repeat");
    await b.settleClaim("msg_held", true);
    assert.equal(await a.claimInbound(message, 5000), "handled");
  });
});
