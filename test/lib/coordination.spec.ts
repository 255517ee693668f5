/**
 * RedisCoordinator against a real redis-server (Debian's, on loopback): one leader per account,
 * failover within a lease when the leader stops or dies, fencing of an ex-leader, claims, and the
 * defined behaviour while Redis is down and after it restarts (empty).
 */
import * as assert from "node:assert/strict";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { createClient } from "redis";
import { accountHash, RedisCoordinator, type CoordinatorState } from "../../src/lib/coordination";
import { requireRedis, startRedis, type RedisServer } from "../support/redis";
import { waitUntil } from "../support/wait";

const LEASE = 300;

describe("lib/coordination (real Redis)", function () {
  this.timeout(20_000);
  let redis: RedisServer;
  const started: RedisCoordinator[] = [];
  const account = accountHash("ak_test_coordination_key", "user");

  before(async function () {
    redis = await startRedis(requireRedis(this));
  });
  after(async function () {
    await redis?.stop();
  });
  afterEach(async function () {
    for (const c of started.splice(0)) await c.stop();
    if (redis) {
      const raw = createClient({ url: redis.url });
      await raw
        .connect()
        .then(() => raw.flushAll())
        .finally(() => raw.destroy())
        .catch(() => undefined);
    }
  });

  function coordinator(instance: string, prefix = "test:"): RedisCoordinator {
    const c = new RedisCoordinator({ url: redis.url, prefix, instance, leaseMs: LEASE, claimMs: 5000 }, account);
    started.push(c);
    c.start();
    return c;
  }
  const stateIs = (c: RedisCoordinator, what: string, check: (s: CoordinatorState) => boolean, timeoutMs = 5000) =>
    waitUntil(`${c.instance} ${what}`, () => check(c.state) || undefined, c, ["state"], timeoutMs);

  it("makes exactly one instance the leader; the other is standby and names it", async function () {
    const a = coordinator("a");
    await stateIs(a, "leader", (s) => s.role === "leader");
    const b = coordinator("b");
    await stateIs(b, "standby", (s) => s.role === "standby");
    assert.deepEqual(b.state, { role: "standby", redisUp: true, leader: "a" });
    // Other bots (another prefix) have their own leader.
    const other = coordinator("c", "other:");
    await stateIs(other, "leader", (s) => s.role === "leader");
  });

  it("a standby takes over within a lease when the leader stops, or dies without releasing", async function () {
    const a = coordinator("a");
    await stateIs(a, "leader", (s) => s.role === "leader");
    const b = coordinator("b");
    await stateIs(b, "standby", (s) => s.role === "standby");
    const stopped = Date.now();
    await a.stop();
    await stateIs(b, "leader after a stopped", (s) => s.role === "leader", LEASE * 3);
    assert.ok(Date.now() - stopped < LEASE * 2, `took ${Date.now() - stopped} ms`);

    // A dead leader's lease (set by hand, never renewed) expires: the standby then leads.
    await b.stop();
    const raw = createClient({ url: redis.url });
    await raw.connect();
    await raw.set(`test:${account}:leader`, "dead#1", { PX: LEASE });
    const c = coordinator("c");
    await stateIs(c, "standby behind the dead one", (s) => s.role === "standby" && s.leader === "dead");
    await stateIs(c, "leader once the dead lease expired", (s) => s.role === "leader", LEASE * 4);
    raw.destroy();
  });

  it("an ex-leader whose lease someone else holds now (fencing) steps down instead of renewing", async function () {
    const a = coordinator("a");
    await stateIs(a, "leader", (s) => s.role === "leader");
    const raw = createClient({ url: redis.url });
    await raw.connect();
    await raw.set(`test:${account}:leader`, "z#999", { PX: 10_000 });
    await stateIs(a, "standby behind z", (s) => s.role === "standby" && s.leader === "z", LEASE * 3);
    assert.equal(await raw.get(`test:${account}:leader`), "z#999", "a did not renew or release z's lease");
    raw.destroy();
  });

  it("claims a message for one instance; unclaimed, another may take it", async function () {
    const a = coordinator("a");
    const b = coordinator("b");
    await stateIs(b, "connected", (s) => s.redisUp);
    await stateIs(a, "connected", (s) => s.redisUp);
    assert.equal(await a.claim("msg_1", 5000), "mine");
    assert.equal(await b.claim("msg_1", 5000), "elsewhere", "a is working on it");
    await a.unclaim("msg_1");
    assert.equal(await b.claim("msg_1", 5000), "mine", "released: the next delivery may be handled anywhere");
    await a.unclaim("msg_1"); // not a's: nothing happens
    assert.equal(await a.claim("msg_1"), "elsewhere");
    await b.handled("msg_1");
    assert.equal(await a.claim("msg_1"), "handled");
    assert.equal(await a.claim("msg_2"), "mine", "without holdMs: handled at once");
    assert.equal(await b.claim("msg_2"), "handled");
    assert.equal(await a.claim("x".repeat(100_000)), "mine", "a huge id is hashed into a short key");
  });

  it("Redis down: the leader keeps leading, the standby stays standby, claims fall back to local; then it recovers", async function () {
    const a = coordinator("a");
    await stateIs(a, "leader", (s) => s.role === "leader");
    const b = coordinator("b");
    await stateIs(b, "standby", (s) => s.role === "standby");
    await redis.stop();
    await stateIs(a, "leader, Redis down", (s) => !s.redisUp);
    await stateIs(b, "standby, Redis down", (s) => !s.redisUp);
    assert.equal(a.state.role, "leader");
    assert.equal(b.state.role, "standby");
    assert.equal(await b.claim("msg_down"), "mine", "no Redis: this instance's own replay filter decides");
    await redis.restart(); // empty: no lease, no claims
    await stateIs(a, "leader again with Redis", (s) => s.redisUp && s.role === "leader", 10_000);
    await stateIs(b, "standby with Redis", (s) => s.redisUp && s.role === "standby", 10_000);
    assert.equal(b.state.leader, "a");
  });

  it("uses the Redis password; a wrong one is a Redis outage whose warning never shows the password", async function () {
    const guarded = await startRedis(requireRedis(this), "s3cret-redis-password");
    const warnings: string[] = [];
    const make = (password: string, instance: string) => {
      const c = new RedisCoordinator(
        { url: guarded.url, password, prefix: "pw:", instance, leaseMs: LEASE, logger: { warn: (m) => warnings.push(m) } },
        account,
      );
      started.push(c);
      c.start();
      return c;
    };
    try {
      const right = make("s3cret-redis-password", "right");
      await stateIs(right, "leader with the password", (s) => s.role === "leader");
      const wrong = make("not-the-password", "wrong");
      await stateIs(wrong, "refused by Redis", (s) => !s.redisUp && s.role === "standby");
      assert.ok(warnings.length > 0, "the outage is logged");
      assert.ok(!warnings.join("\n").includes("not-the-password"), warnings.join("\n"));
    } finally {
      for (const c of started.splice(0)) await c.stop();
      await guarded.stop();
    }
  });

  it("a Redis that stops answering (a black hole) cannot hang a claim or stop(): Redis counts as down", async function () {
    // A proxy that can freeze: the connection stays open, nothing gets through either way.
    let frozen = false;
    const links: Socket[] = [];
    const proxy = createServer((client) => {
      const upstream = connect(redis.port, "127.0.0.1");
      links.push(client, upstream);
      client.on("data", (data) => frozen || upstream.write(data));
      upstream.on("data", (data) => frozen || client.write(data));
      client.on("error", () => undefined);
      upstream.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const url = `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const c = new RedisCoordinator({ url, prefix: "hole:", instance: "h", leaseMs: LEASE }, account);
      started.push(c);
      c.start();
      await stateIs(c, "leader through the proxy", (s) => s.role === "leader");
      frozen = true;
      assert.equal(await c.claim("msg_in_the_hole", 9000), "mine", "past its deadline a claim falls back to local");
      await stateIs(c, "Redis counted as down", (s) => !s.redisUp);
      assert.equal(c.state.role, "leader", "the leader serves on");
      await c.stop(); // bounded: it returns although Redis never answers
    } finally {
      for (const link of links) link.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
