/**
 * Corporate networks, end to end in a real Node-RED runtime:
 * - the emulator serving HTTPS/WSS with a certificate from a test CA made here with openssl:
 *   connects with the CA (tls-config node), fails with a clear red status and TLS_ERROR without it,
 *   connects with a logged warning when verification is off;
 * - Debian's tinyproxy on 127.0.0.1 (started here, stopped by its PID): the socket, REST sends,
 *   media downloads and the storage fetch go through it from HTTP(S)_PROXY, NO_PROXY bypasses it,
 *   and a proxy that requires authentication works with the config node's proxy credentials;
 * - the API key from the environment: `${PIPES_API_KEY}` in the key field.
 * tinyproxy and openssl are installed by .ci/run; a developer machine without them skips, CI fails.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PipesEmulator } from "../../src/emulator";
import { freePort } from "../support/ports";
import { configNode, coreNodes, helper, nextInput, statuses, waitForStatus, PIPES_NODES } from "../support/nodered";
import { poll, waitFor } from "../support/wait";

const KEY = "pk_network_spec_key_000000000000000";
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(40, 5)]);
const TLS_NODE = coreNodes("network/05-tls.js");
const TUNING = { handshakeTimeoutMs: 2000, backoffBaseMs: 50, stableAfterMs: 200, idleCloseMs: 100 };

/**
 * The whole path once, in the loaded flow: connected; an inbound picture downloaded into a Buffer
 * (API request + storage fetch); the picture sent back over REST.
 */
async function roundTrip(emu: PipesEmulator): Promise<void> {
  await waitForStatus("in", "connected (user)");
  const received = nextInput("rx");
  const inbound = emu.inject({ fromNumber: "+1555", media: { data: PNG, mimeType: "image/png" } });
  const msg = await received;
  assert.ok(Buffer.isBuffer(msg.payload) && msg.payload.equals(PNG), JSON.stringify(msg.mediaError));
  const ok = nextInput("ok");
  helper.getNode("media").receive({ payload: PNG, pipes: inbound });
  await ok;
}

/** A Node-RED tls-config node as its editor saves it (every text field present). */
function tlsConfig(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    id: "tls",
    type: "tls-config",
    name: "",
    cert: "",
    key: "",
    ca: "",
    certname: "",
    keyname: "",
    caname: "",
    servername: "",
    alpnprotocol: "",
    verifyservercert: true,
    ...fields,
  };
}

function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/bin", "/usr/sbin"])) {
    if (existsSync(join(dir, tool))) return join(dir, tool);
  }
  return undefined;
}

function requireTool(context: Mocha.Context, tool: string): string {
  const found = which(tool);
  if (found) return found;
  if (/^(1|true|yes)$/i.test(process.env.CI ?? "")) throw new Error(`${tool} is required in CI: .ci/run installs it`);
  console.log(`      skipping: ${tool} not installed (apt-get install -y ${tool})`);
  context.skip();
  throw new Error("unreachable");
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it. */
function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=Pipes Test CA",
  );
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  // An IP-only certificate: through a proxy too, it must be checked against 127.0.0.1 (not a name).
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "1",
    "-extfile",
    "san.ext",
  );
  return { ca: join(dir, "ca.crt"), key: join(dir, "server.key"), cert: join(dir, "server.crt") };
}

/** tinyproxy in the foreground on a free loopback port; every CONNECT it makes is in its log. */
class Tinyproxy {
  private child: ChildProcess | undefined;
  readonly log: string;
  port = 0;
  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly basicAuth?: { user: string; password: string },
  ) {
    this.log = join(dir, `${name}.log`);
  }
  async start(): Promise<string> {
    this.port = await freePort();
    const conf = join(this.dir, `${this.name}.conf`);
    writeFileSync(
      conf,
      [
        `Port ${this.port}`,
        "Listen 127.0.0.1",
        "Allow 127.0.0.1",
        `LogFile "${this.log}"`,
        "LogLevel Connect",
        "MaxClients 50",
        "Timeout 30",
        this.basicAuth ? `BasicAuth ${this.basicAuth.user} ${this.basicAuth.password}` : "",
      ].join("\n"),
    );
    writeFileSync(this.log, "");
    const child = (this.child = spawn(which("tinyproxy")!, ["-d", "-c", conf], { stdio: "ignore" }));
    // Ready when the port accepts a connection: another program's port announces nothing, so it is polled.
    await poll(
      `tinyproxy (${this.name}) to accept connections on port ${this.port}`,
      async () => {
        const up = await new Promise<boolean>((resolve) => {
          const socket = connect(this.port, "127.0.0.1");
          socket.once("connect", () => {
            socket.destroy();
            resolve(true);
          });
          socket.once("error", () => resolve(false));
        });
        if (!up && child.exitCode !== null) throw new Error(`tinyproxy did not start (exit code ${child.exitCode})`);
        return up;
      },
      { everyMs: 20, timeoutMs: 5000 },
    );
    return `http://127.0.0.1:${this.port}`;
  }
  /** The host:port of every CONNECT tunnel it opened so far ("Request (file descriptor N): CONNECT host:port"). */
  tunnels(): string[] {
    return [...readFileSync(this.log, "utf8").matchAll(/Request \(file descriptor \d+\): CONNECT (\S+)/g)].map((m) => m[1]);
  }
  requests(): number {
    return this.tunnels().length;
  }
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = waitFor(this.child, "exit", { what: `tinyproxy (${this.name}) to exit on SIGTERM` });
    this.child.kill("SIGTERM");
    await exited;
  }
}

describe("proxies, TLS and keys from the environment", function () {
  this.timeout(60_000);
  let dir: string;
  const savedEnv = { ...process.env };

  before(function () {
    requireTool(this, "openssl");
    dir = mkdtempSync(join(tmpdir(), "pipes-network-"));
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(function (done) {
    helper.startServer(done);
  });
  afterEach(async function () {
    for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "PIPES_API_KEY"]) {
      if (savedEnv[name] === undefined) delete process.env[name];
      else process.env[name] = savedEnv[name];
    }
    await helper.unload();
    await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
  });

  function flow(config: Record<string, unknown>, extra: Record<string, unknown>[] = []) {
    return [
      { ...config, tuning: TUNING },
      { id: "in", type: "pipes-in", connection: "cfg", downloadMedia: true, wires: [["rx"]] },
      { id: "rx", type: "helper" },
      { id: "media", type: "pipes-send-media", connection: "cfg", wires: [["ok"], ["failed"]] },
      { id: "ok", type: "helper" },
      { id: "failed", type: "helper" },
      ...extra,
    ];
  }

  describe("TLS against an emulator with a private CA", function () {
    let emu: PipesEmulator;
    let certs: { ca: string; key: string; cert: string };

    before(async function () {
      certs = makeCertificates(dir);
      emu = new PipesEmulator({ drainPacingMs: 0, tenants: [{ userId: "u", apiKey: KEY }] });
      await emu.start(0, "127.0.0.1", { key: readFileSync(certs.key), cert: readFileSync(certs.cert) });
      assert.match(emu.url, /^https:/);
    });
    after(async function () {
      await emu?.stop();
    });

    it("connects with the CA from a tls-config node: socket, REST send and media download over TLS", async function () {
      await helper.load(
        [...PIPES_NODES, ...TLS_NODE] as never,
        flow(configNode(emu.url, { tls: "tls" }), [tlsConfig({ ca: certs.ca, verifyservercert: true })]) as never,
        { cfg: { apiKey: KEY } },
      );
      await roundTrip(emu);
      assert.equal(emu.sent().length, 1);
    });

    it("without the CA: a red TLS status, and REST fails with TLS_ERROR", async function () {
      await helper.load(PIPES_NODES, flow(configNode(emu.url)) as never, { cfg: { apiKey: KEY } });
      const status = await waitForStatus("in", /^TLS: certificate not trusted/);
      assert.equal(status.fill, "red");
      const inbound = emu.inject({ fromNumber: "+1666", text: "hi" });
      const failed = nextInput("failed");
      helper.getNode("media").receive({ payload: PNG, pipes: inbound });
      const result = await failed;
      assert.equal(result.error.code, "TLS_ERROR");
      assert.match(result.error.message, /certificate is not trusted/);
    });

    it("refuses to start with a tls-config node that failed to load (missing CA file)", async function () {
      await helper.load(
        [...PIPES_NODES, ...TLS_NODE] as never,
        flow(configNode(emu.url, { tls: "tls" }), [tlsConfig({ ca: join(dir, "no-such-ca.crt") })]) as never,
        { cfg: { apiKey: KEY } },
      );
      const last = statuses("in").at(-1);
      assert.equal(last?.fill, "red");
      assert.match(last?.text ?? "", /TLS configuration is missing or invalid/);
      assert.equal(emu.connections().length, 0);
    });

    it("with verification off: connects, and warns in the log", async function () {
      await helper.load(
        [...PIPES_NODES, ...TLS_NODE] as never,
        flow(configNode(emu.url, { tls: "tls" }), [tlsConfig({ verifyservercert: false })]) as never,
        { cfg: { apiKey: KEY } },
      );
      await waitForStatus("in", "connected (user)");
      assert.ok(helper.log().args.some((a: any[]) => /verification is OFF/.test(String(a[0]?.msg))));
    });
  });

  describe("through tinyproxy", function () {
    let emu: PipesEmulator;
    let open: Tinyproxy;
    let guarded: Tinyproxy;
    let openUrl: string;
    let guardedUrl: string;

    before(async function () {
      requireTool(this, "tinyproxy");
      emu = new PipesEmulator({ drainPacingMs: 0, tenants: [{ userId: "u", apiKey: KEY }] });
      await emu.start(0, "127.0.0.1");
      open = new Tinyproxy(dir, "open");
      guarded = new Tinyproxy(dir, "guarded", { user: "proxyuser", password: "proxy-secret-42" });
      openUrl = await open.start();
      guardedUrl = await guarded.start();
    });
    after(async function () {
      await open?.stop();
      await guarded?.stop();
      await emu?.stop();
    });
    beforeEach(function () {
      emu.reset();
    });

    it("uses HTTP_PROXY from the environment for the socket, sends, downloads and the storage fetch", async function () {
      process.env.HTTP_PROXY = openUrl;
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      const before = open.requests();
      await helper.load(PIPES_NODES, flow(configNode(emu.url)) as never, { cfg: { apiKey: KEY } });
      await roundTrip(emu);
      // The socket has its own tunnel; the REST calls (download, storage fetch, send) share pooled ones.
      assert.ok(open.requests() - before >= 2, `only ${open.requests() - before} tunnels through the proxy`);
    });

    it("decides NO_PROXY per host: the API and the signed storage URL each follow their own rule", async function () {
      process.env.HTTP_PROXY = openUrl;
      const port = new URL(emu.url).port;
      // The nodes talk to localhost; the emulator's storage URLs name 127.0.0.1: two hosts.
      process.env.NO_PROXY = "127.0.0.1";
      let before = open.tunnels().length;
      await helper.load(PIPES_NODES, flow(configNode(`http://localhost:${port}`)) as never, { cfg: { apiKey: KEY } });
      await roundTrip(emu);
      let tunnels = open.tunnels().slice(before);
      assert.ok(tunnels.length >= 2 && tunnels.every((t) => t.startsWith("localhost:")), `tunnels: ${tunnels.join(", ")}`);
      await helper.unload();

      process.env.NO_PROXY = "localhost";
      before = open.tunnels().length;
      await helper.load(PIPES_NODES, flow(configNode(`http://localhost:${port}`)) as never, { cfg: { apiKey: KEY } });
      await roundTrip(emu);
      tunnels = open.tunnels().slice(before);
      assert.deepEqual(tunnels, [`127.0.0.1:${port}`], "only the storage fetch went through the proxy");
    });

    it("bypasses the proxy for hosts in NO_PROXY", async function () {
      process.env.HTTP_PROXY = openUrl;
      process.env.NO_PROXY = "example.com,127.0.0.1";
      const before = open.requests();
      await helper.load(PIPES_NODES, flow(configNode(emu.url)) as never, { cfg: { apiKey: KEY } });
      await roundTrip(emu);
      assert.equal(open.requests() - before, 0);
    });

    it("works through a proxy that requires authentication, with the config node's proxy credentials", async function () {
      const before = guarded.requests();
      await helper.load(PIPES_NODES, flow(configNode(emu.url, { proxyUrl: guardedUrl })) as never, {
        cfg: { apiKey: KEY, proxyUsername: "proxyuser", proxyPassword: "proxy-secret-42" },
      });
      await roundTrip(emu);
      assert.ok(guarded.requests() - before >= 2);
      const logged = JSON.stringify(helper.log().args) + JSON.stringify(statuses("in"));
      assert.ok(!logged.includes("proxy-secret-42"), "the proxy password never reaches a log or status");
    });

    it("shows the proxy's refusal without credentials, and REST fails with PROXY_ERROR", async function () {
      await helper.load(PIPES_NODES, flow(configNode(emu.url, { proxyUrl: guardedUrl })) as never, { cfg: { apiKey: KEY } });
      const status = await waitForStatus("in", "proxy: PROXY_AUTH_REQUIRED");
      assert.equal(status.fill, "red");
      const inbound = emu.inject({ fromNumber: "+1777", text: "hi" });
      const failed = nextInput("failed");
      helper.getNode("media").receive({ payload: PNG, pipes: inbound });
      assert.equal((await failed).error.code, "PROXY_ERROR");
    });

    it("tunnels TLS through the proxy (HTTPS_PROXY) with a private CA: wss and https inside CONNECT", async function () {
      const certs = makeCertificates(mkdtempSync(join(dir, "tls-")));
      const secure = new PipesEmulator({ drainPacingMs: 0, tenants: [{ userId: "u", apiKey: KEY }] });
      await secure.start(0, "127.0.0.1", { key: readFileSync(certs.key), cert: readFileSync(certs.cert) });
      try {
        process.env.HTTPS_PROXY = openUrl;
        delete process.env.NO_PROXY;
        delete process.env.no_proxy;
        const before = open.requests();
        await helper.load(
          [...PIPES_NODES, ...TLS_NODE] as never,
          flow(configNode(secure.url, { tls: "tls" }), [tlsConfig({ ca: certs.ca })]) as never,
          { cfg: { apiKey: KEY } },
        );
        await roundTrip(secure);
        assert.ok(open.requests() - before >= 2, `only ${open.requests() - before} tunnels through the proxy`);
      } finally {
        await helper.unload();
        await secure.stop();
      }
    });
  });

  describe("keys from the environment", function () {
    let emu: PipesEmulator;
    before(async function () {
      emu = new PipesEmulator({ drainPacingMs: 0, tenants: [{ userId: "u", apiKey: KEY }] });
      await emu.start(0, "127.0.0.1");
    });
    after(async function () {
      await emu?.stop();
    });

    it("reads the API key from the environment with ${PIPES_API_KEY}", async function () {
      process.env.PIPES_API_KEY = KEY;
      await helper.load(PIPES_NODES, flow(configNode(emu.url)) as never, { cfg: { apiKey: "${PIPES_API_KEY}" } });
      await waitForStatus("in", "connected (user)");
      const received = nextInput("rx");
      emu.inject({ fromNumber: "+1555", text: "hi" });
      assert.equal((await received).payload, "hi");
    });

    it("an unset variable reads as a missing key: a red status, no connection", async function () {
      delete process.env.PIPES_API_KEY;
      await helper.load(PIPES_NODES, flow(configNode(emu.url)) as never, { cfg: { apiKey: "${PIPES_API_KEY}" } });
      assert.deepEqual(statuses("in").at(-1), { fill: "red", shape: "ring", text: "missing API key" });
    });
  });
});
