/** Argument parsing for the pipes-emulator CLI, kept apart from the process so it can be tested. */
import { LIMITS } from "../lib/protocol";
import { DEMO_API_KEY } from "./options";

export const DEFAULT_CLI_PORT = 3977;

export interface CliRunOptions {
  kind: "run";
  port: number;
  host: string;
  pacingMs: number;
  apiKey: string;
}

export type CliCommand = CliRunOptions | { kind: "help" } | { kind: "error"; message: string };

export const USAGE = `Usage: pipes-emulator [--port ${DEFAULT_CLI_PORT}] [--host 127.0.0.1] [--pacing ${LIMITS.offlineDrainPacingMs}] [--key pk_...]

Runs a local Pipes.bot API emulator (WebSocket /ws, REST /v1, control API /_emulator).

  --port N     port to listen on (env PIPES_EMULATOR_PORT; default ${DEFAULT_CLI_PORT}; 0 = any free port)
  --host H     address to bind (default 127.0.0.1)
  --pacing MS  pause between drained offline messages (default ${LIMITS.offlineDrainPacingMs})
  --key KEY    API key of the demo tenant (default ${DEMO_API_KEY})
  -h, --help   show this help`;

function parsePort(value: string, source: string): number | string {
  const port = Number(value);
  return /^\d+$/.test(value) && port <= 65535 ? port : `${source} must be a port number (0-65535), got '${value}'`;
}

export function parseCliArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): CliCommand {
  const result: CliRunOptions = {
    kind: "run",
    port: DEFAULT_CLI_PORT,
    host: "127.0.0.1",
    pacingMs: LIMITS.offlineDrainPacingMs,
    apiKey: DEMO_API_KEY,
  };
  if (env.PIPES_EMULATOR_PORT !== undefined && env.PIPES_EMULATOR_PORT !== "") {
    const port = parsePort(env.PIPES_EMULATOR_PORT, "PIPES_EMULATOR_PORT");
    if (typeof port === "string") return { kind: "error", message: port };
    result.port = port;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") return { kind: "help" };
    const match = /^(--[a-z]+)(?:=(.*))?$/.exec(arg);
    if (!match) return { kind: "error", message: `unexpected argument '${arg}'` };
    const flag = match[1];
    if (!["--port", "--host", "--pacing", "--key"].includes(flag)) return { kind: "error", message: `unknown option ${flag}` };
    const value = match[2] ?? argv[++i];
    if (value === undefined || value === "") return { kind: "error", message: `${flag} needs a value` };
    if (flag === "--port") {
      const port = parsePort(value, "--port");
      if (typeof port === "string") return { kind: "error", message: port };
      result.port = port;
    } else if (flag === "--pacing") {
      const pacing = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(pacing))
        return { kind: "error", message: `--pacing must be milliseconds >= 0, got '${value}'` };
      result.pacingMs = pacing;
    } else if (flag === "--host") {
      result.host = value;
    } else {
      result.apiKey = value;
    }
  }
  return result;
}
