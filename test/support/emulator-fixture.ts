/**
 * The emulator fixture: one PipesEmulator on 127.0.0.1 for a describe block, and (by default) a
 * Node-RED test runtime around each test. Call it in the describe body; it registers the mocha
 * hooks and returns the emulator at once (it is started before the block's first test):
 *
 *   describe("my node", function () {
 *     const { emu, sockets } = useEmulator({ tenants: [...], settings: { replyStatusDelayMs: 0 } });
 *     it("...", async function () {
 *       await loadFlow([configNode(emu.url), ...], KEY);
 *       await sockets(1);
 *       ...
 *
 * What it does:
 * - before the block: starts the emulator (drainPacingMs 0 unless given) and, with nodeRed "suite",
 *   the Node-RED test runtime;
 * - before each test: emu.reset() (unless reset: false), then emu.configure(settings), then, with
 *   nodeRed "test" (the default), starts the Node-RED test runtime;
 * - after each test: with nodeRed "test", unloads the flows, runs `cleanup`, stops the runtime and
 *   waits until every socket at the emulator is closed; with nodeRed false, runs `cleanup` and
 *   waits for every socket closed (unless awaitSocketsClosed is false: a Node-RED process of the
 *   suite's own stays connected); with nodeRed "suite", runs `cleanup` only;
 * - after the block: with nodeRed "suite", unloads the flows, stops the runtime and waits for every
 *   socket closed; then stops the emulator.
 *
 * Mocha runs a block's hooks in the order they were registered: hooks the suite adds after this call
 * run after the fixture's (so a `before` can use the started emulator, and a `beforeEach` sees the
 * started runtime). An `after` that must run before the emulator stops is registered before the call.
 */
import { PipesEmulator, type EmulatorOptions } from "../../src/emulator";
import { helper } from "./nodered";
import { waitUntil } from "./wait";

export interface EmulatorFixtureOptions extends EmulatorOptions {
  /** A Node-RED test runtime per test ("test", the default), one for the whole block ("suite"), or none (false). */
  nodeRed?: "test" | "suite" | false;
  /** emu.reset() before each test (default true). */
  reset?: boolean;
  /** Applied with emu.configure() before each test, after the reset (e.g. { replyStatusDelayMs: 0 }). */
  settings?: Partial<EmulatorOptions>;
  /** After each test, wait until every socket at the emulator is closed (default true; never with nodeRed "suite"). */
  awaitSocketsClosed?: boolean;
  /** The suite's own clean-up after each test: after the flows are unloaded, before the runtime stops and the sockets are counted. */
  cleanup?: () => unknown;
}

export interface EmulatorFixture {
  /** The emulator: created now, started before the block's first test, stopped after its last. */
  readonly emu: PipesEmulator;
  /** Waits until exactly `n` sockets are open at the emulator (0: every socket closed). */
  readonly sockets: (n: number, timeoutMs?: number) => Promise<unknown>;
}

export function useEmulator(options: EmulatorFixtureOptions = {}): EmulatorFixture {
  const { nodeRed = "test", reset = true, settings, cleanup, awaitSocketsClosed = true, ...emulatorOptions } = options;
  const emu = new PipesEmulator({ drainPacingMs: 0, ...emulatorOptions });
  const sockets = (n: number, timeoutMs = 5000) =>
    waitUntil(
      n === 0 ? "every socket closed at the emulator" : `${n} socket(s) at the emulator`,
      () => emu.connections().length === n,
      emu,
      ["connection", "disconnect"],
      timeoutMs,
    );

  before(async function () {
    await emu.start(0, "127.0.0.1");
    if (nodeRed === "suite") await startServer();
  });
  after(async function () {
    if (nodeRed === "suite") {
      await helper.unload();
      await stopServer();
      await sockets(0);
    }
    await emu.stop();
  });
  beforeEach(async function () {
    if (reset) emu.reset();
    if (settings) emu.configure(settings);
    if (nodeRed === "test") await startServer();
  });
  afterEach(async function () {
    if (nodeRed === "test") await helper.unload();
    await cleanup?.();
    if (nodeRed === "test") await stopServer();
    if (nodeRed !== "suite" && awaitSocketsClosed) await sockets(0);
  });

  return { emu, sockets };
}

function startServer(): Promise<void> {
  return new Promise<void>((resolve, reject) => helper.startServer((err?: Error) => (err ? reject(err) : resolve())));
}

function stopServer(): Promise<void> {
  return new Promise<void>((resolve) => helper.stopServer(() => resolve()));
}
