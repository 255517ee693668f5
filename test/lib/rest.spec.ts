/**
 * PipesRestClient (src/lib/rest.ts) against real local HTTP servers: the emulator for the normal
 * paths, raw `http.createServer` servers on 127.0.0.1 for the faults (silence, 429/503 with
 * Retry-After, refused connections, resets after acceptance, slow bodies, redirects, big downloads).
 * Every wait is on an event with a time limit; every server and client is closed after each test.
 */
import * as assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, type Dispatcher } from "undici";
import { PipesError } from "../../src/lib/errors";
import { REST_PATHS } from "../../src/lib/protocol";
import { encodeSendBody, PipesRestClient, SEND_SLICE_BYTES, type RestClientOptions } from "../../src/lib/rest";
import { useEmulator } from "../support/emulator-fixture";
import { waitUntil } from "../support/wait";

const KEY = "pk_rest_spec_key_0000000000000000000";
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(200, 7)]);
/** rest.ts streams base64 in slices of this many bytes. */
const SLICE = SEND_SLICE_BYTES;

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, index: number) => void;

interface TestServer {
  url: string;
  port: number;
  server: Server;
  /** Every request, in arrival order, with its body (read fully before the handler runs). */
  requests: { method: string; url: string; headers: IncomingMessage["headers"]; body: Buffer; at: number }[];
  /** Emits "request" after each request was recorded. */
  events: EventEmitter;
}

const servers: Server[] = [];
const clients: PipesRestClient[] = [];
const dispatchers: Dispatcher[] = [];

/** A raw HTTP server on 127.0.0.1:0 that records each request and hands it to `handler`. */
async function rawServer(handler: Handler): Promise<TestServer> {
  const events = new EventEmitter();
  const requests: TestServer["requests"] = [];
  const server = createServer((req, res) => {
    const record = (body: Buffer) => {
      const index = requests.length;
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, at: performance.now() });
      handler(req, res, body, index);
      events.emit("request", index);
    };
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => record(Buffer.concat(chunks)));
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, server, requests, events };
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function restClient(baseUrl: string, extra: Partial<RestClientOptions> = {}): PipesRestClient {
  const client = new PipesRestClient({ baseUrl, apiKey: KEY, timeoutMs: 2000, retryBaseMs: 10, maxRetryDelayMs: 200, ...extra });
  clients.push(client);
  return client;
}

/** An undici Agent that counts the requests it dispatches (one per attempt). */
class CountingAgent extends Agent {
  count = 0;
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.count++;
    return super.dispatch(options, handler);
  }
}

function countingAgent(): CountingAgent {
  const agent = new CountingAgent({ connect: { timeout: 2000 } });
  dispatchers.push(agent);
  return agent;
}

/** Resolves with the PipesError a promise rejects with; fails the test if it resolves or rejects otherwise. */
async function failure(promise: Promise<unknown>): Promise<PipesError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PipesError, `expected a PipesError, got ${String(err)}`);
    assert.ok(!err.message.includes(KEY), "the key must not appear in an error message");
    return err;
  }
  return assert.fail("expected the promise to reject");
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

const ok = (res: ServerResponse, conversationId = "conv_1") =>
  json(res, 200, { success: true, messageId: `wamid.${Math.random().toString(36).slice(2)}`, conversationId });

/** Reports each pause the client takes between attempts (its private `pause`, observed, not changed). */
function observePauses(client: PipesRestClient): { list: number[]; events: EventEmitter } {
  const events = new EventEmitter();
  const list: number[] = [];
  const target = client as unknown as { pause: (ms: number) => Promise<void> };
  const original = target.pause.bind(client);
  target.pause = (ms: number) => {
    const waiting = original(ms);
    list.push(ms);
    events.emit("pause", ms);
    return waiting;
  };
  return { list, events };
}

/** A port that was open a moment ago and is closed now: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

describe("PipesRestClient against local HTTP servers", function () {
  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(dispatchers.splice(0).map((d) => d.destroy().catch(() => undefined)));
    await Promise.all(servers.splice(0).map(closeServer));
  });

  describe("normal paths against the emulator", function () {
    const { emu } = useEmulator({ nodeRed: false, tenants: [{ userId: "user_rest", apiKey: KEY }] });

    it("sends text and returns the server's messageId", async function () {
      const inbound = emu.inject({ fromNumber: "+15550100001", text: "hi" });
      const client = restClient(emu.url);
      const result = await client.send({ conversationId: inbound.conversationId, text: "hello over rest" });
      assert.equal(result.success, true);
      assert.match(result.messageId ?? "", /^wamid\./);
      const [sent] = emu.sent({ conversationId: inbound.conversationId });
      assert.equal(sent.text, "hello over rest");
      assert.equal(sent.via, "rest");
    });

    it("uploads a Buffer as base64 that the server stores byte for byte (read back through download)", async function () {
      const inbound = emu.inject({ fromNumber: "+15550100002", text: "hi" });
      const client = restClient(emu.url);
      const data = Buffer.concat([PNG, Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256))]);
      await client.send(
        { conversationId: inbound.conversationId, mimeType: "image/png", fileName: "x.png", caption: 'a "quoted" ✓ caption' },
        data,
      );
      const [sent] = emu.sent({ conversationId: inbound.conversationId });
      assert.equal(sent.media?.mode, "base64");
      assert.equal(sent.media?.byteSize, data.length);
      assert.equal(sent.caption, 'a "quoted" ✓ caption');
      const back = await client.download(REST_PATHS.mediaDownload(sent.media.mediaId!), 1024 * 1024);
      assert.ok(back.data.equals(data), "the bytes read back differ from the bytes sent");
      assert.equal(back.mimeType, "image/png");
    });

    it("downloads inbound media through the emulator's 302 (its storage refuses an Authorization header)", async function () {
      const inbound = emu.inject({ fromNumber: "+15550100003", media: { data: PNG, mimeType: "image/png", fileName: "dot.png" } });
      const client = restClient(emu.url);
      const file = await client.download(inbound.media!.downloadUrl!, 1024 * 1024);
      assert.ok(file.data.equals(PNG));
      assert.equal(file.mimeType, "image/png");
    });

    it("maps the emulator's errors to codes with the HTTP status, without the key in the text", async function () {
      const client = restClient(emu.url);
      let error = await failure(client.send({ conversationId: "conv_does_not_exist", text: "x" }));
      assert.equal(error.code, "CONVERSATION_NOT_FOUND");
      assert.equal(error.status, 404);
      assert.equal(error.source, "server");
      const wrong = restClient(emu.url, { apiKey: "pk_wrong_key_for_rest_spec_000000000" });
      error = await failure(wrong.send({ conversationId: "conv_x", text: "x" }));
      assert.equal(error.code, "UNAUTHORIZED");
      assert.equal(error.status, 401);
      error = await failure(wrong.download(REST_PATHS.mediaDownload("AAAAAAAAAAAAAAAAAAAAA"), 1000));
      assert.equal(error.status, 401);
    });

    it("keeps the server's code when a download is refused (404 MEDIA_NOT_FOUND for unknown or expired media)", async function () {
      const client = restClient(emu.url);
      const error = await failure(client.download(REST_PATHS.mediaDownload("AAAAAAAAAAAAAAAAAAAAA"), 1000));
      assert.equal(error.status, 404);
      assert.equal(error.source, "server");
      assert.equal(error.code, "MEDIA_NOT_FOUND", `the server said MEDIA_NOT_FOUND; the client reported ${error.code}: ${error.message}`);
    });

    it("maps the emulator's 413 for an oversized upload to MEDIA_TOO_LARGE, also when it answers before reading the body", async function () {
      const inbound = emu.inject({ fromNumber: "+15550100004", text: "hi" });
      emu.configure({ maxMediaBytes: 1000 });
      try {
        const client = restClient(emu.url);
        // Just over the media limit: the emulator reads the body, then refuses it.
        let error = await failure(
          client.send({ conversationId: inbound.conversationId, mimeType: "image/png" }, Buffer.concat([PNG, Buffer.alloc(2000)])),
        );
        assert.equal(error.code, "MEDIA_TOO_LARGE");
        assert.equal(error.status, 413);
        // Far over: the emulator answers 413 from the Content-Length and closes without reading the body.
        error = await failure(
          client.send({ conversationId: inbound.conversationId, mimeType: "image/png" }, Buffer.concat([PNG, Buffer.alloc(512 * 1024)])),
        );
        assert.equal(error.code, "MEDIA_TOO_LARGE", `got ${error.code}: ${error.message}`);
        assert.equal(error.status, 413);
        assert.equal(emu.sent().length, 0);
      } finally {
        emu.configure({ maxMediaBytes: 64 * 1024 * 1024 });
      }
    });
  });

  describe("the send body", function () {
    for (const size of [1, 2, 3, 4, SLICE - 1, SLICE, SLICE + 1, 2 * SLICE + 2]) {
      it(`carries a ${size}-byte Buffer as exactly its base64, with a correct Content-Length`, async function () {
        const srv = await rawServer((_req, res) => ok(res));
        const client = restClient(srv.url);
        const data = Buffer.alloc(size);
        for (let i = 0; i < size; i++) data[i] = (i * 7 + 3) % 256;
        await client.send({ conversationId: "conv_b64", mimeType: "application/pdf", caption: 'line\n"two" é' }, data);
        assert.equal(srv.requests.length, 1);
        const [request] = srv.requests;
        assert.equal(Number(request.headers["content-length"]), request.body.length);
        const body = JSON.parse(request.body.toString("utf8"));
        assert.equal(body.media, data.toString("base64"));
        assert.ok(Buffer.from(body.media, "base64").equals(data));
        assert.equal(body.conversationId, "conv_b64");
        assert.equal(body.mimeType, "application/pdf");
        assert.equal(body.caption, 'line\n"two" é');
        assert.equal(request.headers.authorization, `Bearer ${KEY}`);
        assert.match(String(request.headers["content-type"]), /^application\/json/);
      });
    }
  });

  describe("the answer", function () {
    it("reads Meta's answer to a passthrough as a send's, and a hostile '__proto__' key stays a plain field", async function () {
      const answer = '{"messaging_product":"whatsapp","messages":[{"id":"wamid.X1"}],"__proto__":{"injected":"yes"}}';
      const srv = await rawServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(answer);
      });
      const result = await restClient(srv.url).passthrough({ conversationId: "conv_p", messaging_product: "whatsapp", type: "text" });
      assert.equal(result.messageId, "wamid.X1");
      assert.equal(result.conversationId, "conv_p");
      assert.equal(result.success, true);
      assert.equal(Object.getPrototypeOf(result), Object.prototype, "the prototype is not taken from the answer");
      assert.equal((result as Record<string, unknown>).injected, undefined);
      assert.ok(Object.hasOwn(result, "__proto__"), "kept as the plain field it came as");
    });
  });

  describe("time-outs and retries", function () {
    it("a server that accepts the request and never answers gives TIMEOUT within timeoutMs, not retried", async function () {
      const srv = await rawServer(() => undefined);
      const client = restClient(srv.url, { timeoutMs: 300 });
      const started = performance.now();
      const error = await failure(client.send({ conversationId: "conv_t", text: "x" }));
      const elapsed = performance.now() - started;
      assert.equal(error.code, "TIMEOUT");
      assert.ok(elapsed >= 290, `gave up after ${elapsed.toFixed(0)} ms, before the time-out`);
      assert.ok(elapsed < 1300, `took ${elapsed.toFixed(0)} ms for a 300 ms time-out`);
      assert.equal(srv.requests.length, 1, "a time-out after acceptance has an unknown outcome and is not retried");
    });

    it("the per-call timeoutMs overrides the client's", async function () {
      const srv = await rawServer(() => undefined);
      const client = restClient(srv.url, { timeoutMs: 10_000 });
      const started = performance.now();
      const error = await failure(client.send({ conversationId: "conv_t", text: "x" }, undefined, 200));
      assert.equal(error.code, "TIMEOUT");
      assert.ok(performance.now() - started < 1200);
    });

    it("a server that sends the headers and then stalls the body also gives TIMEOUT", async function () {
      const srv = await rawServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
        res.write('{"success":true,');
      });
      const client = restClient(srv.url, { timeoutMs: 300 });
      const started = performance.now();
      const error = await failure(client.send({ conversationId: "conv_t", text: "x" }));
      assert.equal(error.code, "TIMEOUT", `got ${error.code}: ${error.message}`);
      assert.ok(performance.now() - started < 1300);
    });

    it("503 with Retry-After: 0 then 200 succeeds after exactly one retry", async function () {
      const srv = await rawServer((_req, res, _body, i) =>
        i === 0 ? json(res, 503, { error: { code: "UNAVAILABLE", message: "busy" } }, { "retry-after": "0" }) : ok(res),
      );
      const client = restClient(srv.url, { retryBaseMs: 5000 });
      const started = performance.now();
      const result = await client.send({ conversationId: "conv_r", text: "x" });
      assert.equal(result.success, true);
      assert.equal(srv.requests.length, 2);
      assert.ok(performance.now() - started < 2000, "Retry-After: 0 must win over a 5 s backoff");
      assert.deepEqual(
        JSON.parse(srv.requests[1].body.toString()),
        JSON.parse(srv.requests[0].body.toString()),
        "the retry sends the same body",
      );
    });

    it("honours a short Retry-After instead of its own (longer) backoff", async function () {
      const srv = await rawServer((_req, res, _body, i) => (i === 0 ? json(res, 429, {}, { "retry-after": "0.2" }) : ok(res)));
      const client = restClient(srv.url, { retryBaseMs: 5000, maxRetryDelayMs: 10_000 });
      await client.send({ conversationId: "conv_r", text: "x" });
      const gap = srv.requests[1].at - srv.requests[0].at;
      assert.ok(gap >= 180, `retried after ${gap.toFixed(0)} ms, before Retry-After`);
      assert.ok(gap < 1500, `retried after ${gap.toFixed(0)} ms; Retry-After asked for 200 ms`);
    });

    for (const [label, retryAfter] of [
      ["in seconds", "3600"],
      ["as an HTTP date", () => new Date(Date.now() + 3600_000).toUTCString()],
    ] as const) {
      it(`caps a 429 Retry-After ${label} at maxRetryDelayMs`, async function () {
        const srv = await rawServer((_req, res, _body, i) =>
          i === 0
            ? json(
                res,
                429,
                { error: { code: "RATE_LIMITED" } },
                { "retry-after": typeof retryAfter === "string" ? retryAfter : retryAfter() },
              )
            : ok(res),
        );
        const client = restClient(srv.url, { maxRetryDelayMs: 150, timeoutMs: 2000 });
        const result = await client.send({ conversationId: "conv_cap", text: "x" });
        assert.equal(result.success, true);
        assert.equal(srv.requests.length, 2);
        const gap = srv.requests[1].at - srv.requests[0].at;
        assert.ok(gap >= 140, `retried after ${gap.toFixed(0)} ms, before the cap`);
        assert.ok(gap < 1500, `waited ${gap.toFixed(0)} ms; the cap is 150 ms`);
      });
    }

    it("a Retry-After that would outlast the time limit fails at once with the server's answer", async function () {
      const srv = await rawServer((_req, res) =>
        json(res, 503, { error: { code: "UNAVAILABLE", message: "back in a minute" } }, { "retry-after": "60" }),
      );
      const client = restClient(srv.url, { timeoutMs: 1000, maxRetryDelayMs: 120_000 });
      const started = performance.now();
      const error = await failure(client.send({ conversationId: "conv_long", text: "x" }));
      assert.equal(error.status, 503);
      assert.equal(error.code, "UNAVAILABLE");
      assert.ok(performance.now() - started < 900, "it waited although the retry could not fit in the time limit");
      assert.equal(srv.requests.length, 1);
    });

    it("the time limit includes the wait behind earlier sends of the same conversation", async function () {
      let release: (() => void) | undefined;
      const srv = await rawServer((_req, res, _body, i) => {
        if (i === 0) release = () => ok(res);
        else ok(res);
      });
      const client = restClient(srv.url, { timeoutMs: 2000 });
      const first = client.send({ conversationId: "conv_q", text: "slow" });
      first.catch(() => undefined);
      await waitUntil("the first send at the server", () => srv.requests.length === 1, srv.events, ["request"], 3000);
      const started = performance.now();
      const error = await failure(client.send({ conversationId: "conv_q", text: "queued" }, undefined, 300));
      const elapsed = performance.now() - started;
      release?.();
      assert.equal(error.code, "TIMEOUT");
      assert.ok(elapsed < 1200, `a send with a 300 ms limit, queued behind a slow one, failed only after ${elapsed.toFixed(0)} ms`);
      assert.equal(srv.requests.length, 1, "the queued send was sent after its time limit");
      assert.equal((await first).success, true);
    });

    it("three 503s in a row fail after maxAttempts with the status and the server's code", async function () {
      const srv = await rawServer((_req, res) => json(res, 503, { error: { code: "UNAVAILABLE", message: "down for maintenance" } }));
      const client = restClient(srv.url, { maxAttempts: 3, retryBaseMs: 10 });
      const error = await failure(client.send({ conversationId: "conv_503", text: "x" }));
      assert.equal(error.code, "UNAVAILABLE");
      assert.equal(error.status, 503);
      assert.equal(error.message, "down for maintenance");
      assert.equal(srv.requests.length, 3);
      // No Retry-After: the pauses grow from retryBaseMs (10 ms, then 20 ms).
      assert.ok(srv.requests[2].at - srv.requests[0].at >= 25);
    });

    it("a 503 without a body fails with HTTP_ERROR and the status", async function () {
      const srv = await rawServer((_req, res) => {
        res.writeHead(503, { "content-length": "0" });
        res.end();
      });
      const client = restClient(srv.url, { maxAttempts: 2 });
      const error = await failure(client.send({ conversationId: "conv_503", text: "x" }));
      assert.equal(error.code, "HTTP_ERROR");
      assert.equal(error.status, 503);
      assert.equal(srv.requests.length, 2);
    });

    for (const status of [400, 401, 403, 404, 500, 502]) {
      it(`does not retry HTTP ${status}`, async function () {
        const srv = await rawServer((_req, res) => json(res, status, { error: { message: `no (${status})` } }));
        const client = restClient(srv.url, { maxAttempts: 5 });
        const error = await failure(client.send({ conversationId: "conv_nr", text: "x" }));
        assert.equal(error.status, status);
        assert.equal(srv.requests.length, 1);
      });
    }

    it("connection refused is NETWORK_ERROR after maxAttempts attempts", async function () {
      const port = await closedPort();
      const agent = countingAgent();
      const client = restClient(`http://127.0.0.1:${port}`, { maxAttempts: 3, retryBaseMs: 20, dispatcher: agent });
      const started = performance.now();
      const error = await failure(client.send({ conversationId: "conv_refused", text: "x" }));
      assert.equal(error.code, "NETWORK_ERROR");
      assert.match(error.message, /ECONNREFUSED/);
      assert.equal(agent.count, 3, "one attempt per maxAttempts");
      assert.ok(performance.now() - started >= 55, "the retries wait their backoff (20 ms, then 40 ms)");
    });

    it("a socket reset after the server accepted the request is NOT retried (unknown outcome)", async function () {
      const srv = await rawServer((req) => req.socket.destroy());
      const agent = countingAgent();
      const client = restClient(srv.url, { maxAttempts: 5, dispatcher: agent });
      const error = await failure(client.send({ conversationId: "conv_reset", text: "x" }));
      assert.equal(error.code, "NETWORK_ERROR");
      assert.equal(srv.requests.length, 1, "the server saw the request once");
      assert.equal(agent.count, 1, "the client made one attempt");
    });
  });

  describe("per-conversation order", function () {
    it("sends to one conversation strictly one after another and in order, while another conversation proceeds in parallel", async function () {
      const inFlight = new Map<string, number>();
      const seen = new Map<string, string[]>();
      const overlaps: string[] = [];
      let heldFirstA: ServerResponse | undefined;
      let answeredB = 0;
      const srv = await rawServer((_req, res, body) => {
        const { conversationId, text } = JSON.parse(body.toString("utf8")) as { conversationId: string; text: string };
        const now = (inFlight.get(conversationId) ?? 0) + 1;
        inFlight.set(conversationId, now);
        if (now > 1) overlaps.push(`${conversationId}: ${text}`);
        seen.set(conversationId, [...(seen.get(conversationId) ?? []), text]);
        const answer = () => {
          inFlight.set(conversationId, (inFlight.get(conversationId) ?? 1) - 1);
          if (text === "A5") json(res, 400, { error: { code: "INVALID_REQUEST", message: "A5 refused" } });
          else ok(res, conversationId);
          if (conversationId === "B" && ++answeredB === 10 && heldFirstA) {
            // A0 is answered only once all of B went through: B did not wait for A.
            const held = heldFirstA;
            heldFirstA = undefined;
            inFlight.set("A", (inFlight.get("A") ?? 1) - 1);
            ok(held, "A");
          }
        };
        if (text === "A0") {
          heldFirstA = res;
          return;
        }
        // Answer a little later so an overlapping request (if the client sent one) would show.
        setImmediate(() => setImmediate(answer));
      });
      const client = restClient(srv.url, { timeoutMs: 5000 });
      const a = Array.from({ length: 10 }, (_, i) => client.send({ conversationId: "A", text: `A${i}` }));
      const b = Array.from({ length: 10 }, (_, i) => client.send({ conversationId: "B", text: `B${i}` }));
      const results = await Promise.allSettled([...a, ...b]);
      assert.deepEqual(overlaps, [], "two requests of one conversation were in flight at once");
      assert.deepEqual(
        seen.get("A"),
        Array.from({ length: 10 }, (_, i) => `A${i}`),
      );
      assert.deepEqual(
        seen.get("B"),
        Array.from({ length: 10 }, (_, i) => `B${i}`),
      );
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === "rejected").length, 1, "only A5 fails");
      const a5 = results[5];
      assert.ok(a5.status === "rejected" && (a5.reason as PipesError).code === "INVALID_REQUEST");
      // B finished while A0 was still held, so B's requests all came before A1.
      const order = srv.requests.map((r) => (JSON.parse(r.body.toString()) as { text: string }).text);
      assert.ok(order.indexOf("B9") < order.indexOf("A1"), `order was ${order.join(",")}`);
    });
  });

  describe("close()", function () {
    it("aborts a request in flight with STOPPED, promptly", async function () {
      const srv = await rawServer(() => undefined);
      const client = restClient(srv.url, { timeoutMs: 10_000 });
      const pending = failure(client.send({ conversationId: "conv_c", text: "x" }));
      await waitUntil("the request at the server", () => srv.requests.length === 1, srv.events, ["request"], 3000);
      const started = performance.now();
      await client.close();
      const error = await pending;
      assert.equal(error.code, "STOPPED");
      assert.ok(performance.now() - started < 1000);
    });

    it("cuts a Retry-After pause short and fails the queued sends of that conversation with STOPPED", async function () {
      const srv = await rawServer((_req, res) => json(res, 503, {}, { "retry-after": "5" }));
      const client = restClient(srv.url, { timeoutMs: 10_000, maxRetryDelayMs: 30_000 });
      const pauses = observePauses(client);
      const first = failure(client.send({ conversationId: "conv_c", text: "one" }));
      const second = failure(client.send({ conversationId: "conv_c", text: "two" }));
      // The client is now waiting out the 5 s Retry-After.
      await waitUntil("the pause before the retry", () => pauses.list.length === 1, pauses.events, ["pause"], 3000);
      assert.equal(pauses.list[0], 5000, "the pause honours Retry-After: 5");
      const started = performance.now();
      await client.close();
      assert.equal((await first).code, "STOPPED");
      assert.equal((await second).code, "STOPPED");
      assert.ok(performance.now() - started < 1000, "close() did not cut the 30 s pause");
      assert.equal(srv.requests.length, 1, "nothing is sent after close()");
      assert.equal((await failure(client.send({ conversationId: "conv_c", text: "three" }))).code, "STOPPED");
      assert.equal((await failure(client.download("/v1/media/download/x", 10))).code, "STOPPED");
    });

    it("aborts a download whose body is still streaming", async function () {
      const srv = await rawServer((_req, res) => {
        res.writeHead(200, { "content-type": "image/png" });
        res.write(Buffer.alloc(10));
      });
      const client = restClient(srv.url, { timeoutMs: 10_000 });
      const pending = failure(client.download("/v1/media/download/x", 1000));
      await waitUntil("the request at the server", () => srv.requests.length === 1, srv.events, ["request"], 3000);
      await client.close();
      assert.equal((await pending).code, "STOPPED");
    });
  });

  describe("media download", function () {
    /** The API host answers 302 to the storage host; the storage host serves `bytes`. */
    async function apiAndStorage(bytes: Buffer, storageHeaders: Record<string, string> = { "content-type": "image/png" }) {
      const storage = await rawServer((_req, res) => {
        res.writeHead(200, { "content-length": String(bytes.length), ...storageHeaders });
        res.end(bytes);
      });
      const api = await rawServer((_req, res) => {
        res.writeHead(302, { location: `${storage.url}/bucket/object?X-Signature=abc`, "content-length": "0" });
        res.end();
      });
      return { api, storage };
    }

    it("follows the 302 to the storage host without the Authorization header, and the bytes match", async function () {
      const bytes = Buffer.concat([PNG, Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 13) % 256))]);
      const { api, storage } = await apiAndStorage(bytes);
      const client = restClient(api.url);
      const file = await client.download("/v1/media/download/AAAAAAAAAAAAAAAAAAAAA", 1024 * 1024);
      assert.ok(file.data.equals(bytes));
      assert.equal(file.mimeType, "image/png");
      assert.equal(api.requests.length, 1);
      assert.equal(api.requests[0].headers.authorization, `Bearer ${KEY}`);
      assert.equal(api.requests[0].url, "/v1/media/download/AAAAAAAAAAAAAAAAAAAAA");
      assert.equal(storage.requests.length, 1);
      assert.equal(storage.requests[0].headers.authorization, undefined, "the key reached the storage host");
      assert.ok(!JSON.stringify(storage.requests[0].headers).includes(KEY), "the key reached the storage host in some header");
      assert.equal(storage.requests[0].url, "/bucket/object?X-Signature=abc");
    });

    it("resolves a relative Location against the API URL", async function () {
      const bytes = Buffer.from("%PDF-1.4 tiny");
      const api = await rawServer((req, res) => {
        if (req.url?.startsWith("/storage/")) {
          res.writeHead(200, { "content-type": "application/pdf; charset=binary", "content-length": String(bytes.length) });
          res.end(bytes);
          return;
        }
        res.writeHead(302, { location: "/storage/obj1" });
        res.end();
      });
      const client = restClient(api.url);
      const file = await client.download("/v1/media/download/x", 1000);
      assert.ok(file.data.equals(bytes));
      assert.equal(file.mimeType, "application/pdf");
      assert.equal(api.requests.length, 2);
      assert.equal(api.requests[1].headers.authorization, undefined, "the key went along the redirect");
    });

    for (const downloadUrl of ["//127.0.0.1:PORT/v1/media/download/x", "http://127.0.0.1:PORT/v1/media/download/x"]) {
      it(`never sends the key to a downloadUrl off the configured host (${downloadUrl.replace(/:PORT/, ":other")})`, async function () {
        const elsewhere = await rawServer((_req, res) => {
          res.writeHead(200, { "content-type": "image/png" });
          res.end(PNG);
        });
        const api = await rawServer((_req, res) => {
          res.writeHead(200, { "content-type": "image/png" });
          res.end(PNG);
        });
        const error = await failure(restClient(api.url).download(downloadUrl.replace("PORT", String(elsewhere.port)), 1000));
        assert.equal(error.code, "DOWNLOAD_FAILED");
        assert.equal(elsewhere.requests.length, 0, "a request went to another host");
        assert.equal(api.requests.length, 0);
      });
    }

    it("uses a 200 answer to the first request as it is", async function () {
      const bytes = Buffer.from("OggS direct bytes");
      const api = await rawServer((_req, res) => {
        res.writeHead(200, { "content-type": "audio/ogg", "content-length": String(bytes.length) });
        res.end(bytes);
      });
      const client = restClient(api.url);
      const file = await client.download("/v1/media/download/x", 1000);
      assert.ok(file.data.equals(bytes));
      assert.equal(file.mimeType, "audio/ogg");
      assert.equal(api.requests.length, 1);
    });

    it("refuses a download over maxBytes by its Content-Length with MEDIA_TOO_LARGE", async function () {
      const { api } = await apiAndStorage(Buffer.alloc(5000, 1));
      const client = restClient(api.url);
      const error = await failure(client.download("/v1/media/download/x", 4999));
      assert.equal(error.code, "MEDIA_TOO_LARGE");
    });

    it("refuses a chunked download (no Content-Length) once the streamed size passes maxBytes, and stops reading", async function () {
      let storageResponse!: ServerResponse;
      let streamClosed = false;
      const storage = await rawServer((_req, res) => {
        res.writeHead(200, { "content-type": "video/mp4" });
        // Writes without end: only the client giving up ends this response.
        storageResponse = res;
        res.on("close", () => (streamClosed = true));
        const chunk = Buffer.alloc(16 * 1024, 2);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on("drain", pump);
        pump();
      });
      const api = await rawServer((_req, res) => {
        res.writeHead(302, { location: `${storage.url}/obj` });
        res.end();
      });
      const client = restClient(api.url, { timeoutMs: 5000 });
      const error = await failure(client.download("/v1/media/download/x", 100_000));
      assert.equal(error.code, "MEDIA_TOO_LARGE");
      assert.equal(storage.requests[0].headers["content-length"], undefined);
      await waitUntil("the client to close the endless download", () => streamClosed, storageResponse, ["close"], 2000);
    });

    it("accepts a chunked download of exactly maxBytes", async function () {
      const bytes = Buffer.alloc(3000, 9);
      const storage = await rawServer((_req, res) => {
        res.writeHead(200, { "content-type": "image/webp" });
        res.write(bytes.subarray(0, 1000));
        res.end(bytes.subarray(1000));
      });
      const api = await rawServer((_req, res) => {
        res.writeHead(302, { location: `${storage.url}/obj` });
        res.end();
      });
      const file = await restClient(api.url).download("/v1/media/download/x", 3000);
      assert.equal(file.data.length, 3000);
    });

    for (const location of [
      "ftp://127.0.0.1/file.png",
      "file:///etc/passwd",
      "javascript:alert(1)",
      "data:image/png;base64,iVBORw0KGgo=",
    ]) {
      it(`refuses a Location to a non-HTTP scheme (${location.split(":")[0]}:)`, async function () {
        const api = await rawServer((_req, res) => {
          res.writeHead(302, { location });
          res.end();
        });
        const error = await failure(restClient(api.url).download("/v1/media/download/x", 1000));
        assert.equal(error.code, "DOWNLOAD_FAILED");
        assert.equal(api.requests.length, 1);
      });
    }

    it("refuses a 302 without a Location, and does not follow a second redirect", async function () {
      let api = await rawServer((_req, res) => {
        res.writeHead(302, { "content-length": "0" });
        res.end();
      });
      let error = await failure(restClient(api.url).download("/v1/media/download/x", 1000));
      assert.equal(error.code, "DOWNLOAD_FAILED");
      const storage = await rawServer((_req, res) => {
        res.writeHead(302, { location: `${api.url}/again` });
        res.end();
      });
      api = await rawServer((_req, res) => {
        res.writeHead(302, { location: `${storage.url}/obj` });
        res.end();
      });
      error = await failure(restClient(api.url).download("/v1/media/download/x", 1000));
      assert.equal(error.code, "DOWNLOAD_FAILED");
      assert.equal(error.status, 302);
      assert.equal(storage.requests.length, 1);
      assert.equal(api.requests.length, 1);
    });

    it("a storage host that never answers gives TIMEOUT", async function () {
      const storage = await rawServer(() => undefined);
      const api = await rawServer((_req, res) => {
        res.writeHead(302, { location: `${storage.url}/obj` });
        res.end();
      });
      const started = performance.now();
      const error = await failure(restClient(api.url).download("/v1/media/download/x", 1000, 300));
      assert.equal(error.code, "TIMEOUT");
      assert.ok(performance.now() - started < 1500);
    });

    it("a storage host that stalls mid-body gives TIMEOUT", async function () {
      const storage = await rawServer((_req, res) => {
        res.writeHead(200, { "content-type": "image/png", "content-length": "1000" });
        res.write(Buffer.alloc(100));
      });
      const api = await rawServer((_req, res) => {
        res.writeHead(302, { location: `${storage.url}/obj` });
        res.end();
      });
      const started = performance.now();
      const error = await failure(restClient(api.url).download("/v1/media/download/x", 5000, 300));
      assert.equal(error.code, "TIMEOUT", `got ${error.code}: ${error.message}`);
      assert.ok(performance.now() - started < 1500);
    });

    it("a 403 from the storage host is a failure with that status", async function () {
      const storage = await rawServer((_req, res) => {
        res.writeHead(403, { "content-type": "application/xml" });
        res.end("<Error><Code>AccessDenied</Code></Error>");
      });
      const api2 = await rawServer((_req, res) => {
        res.writeHead(302, { location: `${storage.url}/obj` });
        res.end();
      });
      const error = await failure(restClient(api2.url).download("/v1/media/download/x", 1000));
      assert.equal(error.status, 403);
      assert.ok(["DOWNLOAD_FAILED", "FORBIDDEN"].includes(error.code), error.code);
    });
  });
});

describe("lib/rest: the streamed send body", function () {
  it("streams a send body that is exactly the JSON of the same request", async function () {
    for (const size of [1, 2, 3, 4, 1000, SEND_SLICE_BYTES + 5, 3 * 256 * 1024 + 5]) {
      const data = Buffer.alloc(size, 7);
      const body = { conversationId: "conv_1", mimeType: "image/png", caption: 'hi "there"' };
      const { payload, length } = encodeSendBody(body, data);
      const chunks: Buffer[] = [];
      for await (const chunk of payload) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString();
      assert.equal(Buffer.byteLength(text), length);
      assert.deepEqual(JSON.parse(text), { ...body, media: data.toString("base64") });
    }
  });
});
