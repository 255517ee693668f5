#!/usr/bin/env node
/** pipes-emulator: runs the local Pipes.bot API emulator until SIGINT/SIGTERM. */
import { parseCliArgs, USAGE, type CliRunOptions } from "./cli-args";
import { DEFAULT_POOL_NUMBER } from "./options";
import { PipesEmulator } from "./server";

export interface CliOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Starts the emulator for parsed options; resolves it, or the exit code when it could not start. */
export async function startFromCli(options: CliRunOptions, io: CliOutput): Promise<PipesEmulator | number> {
  const emulator = new PipesEmulator({
    tenants: [{ userId: "user_demo", apiKey: options.apiKey }],
    drainPacingMs: options.pacingMs,
    log: io.out,
  });
  try {
    await emulator.start(options.port, options.host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") io.err(`port ${options.port} is in use; pass --port`);
    else io.err(`cannot listen on ${options.host}:${options.port}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  for (const line of banner(emulator.url, options.apiKey)) io.out(line);
  return emulator;
}

export function banner(url: string, apiKey: string): string[] {
  const wsUrl = `${url.replace(/^http/, "ws")}/ws?apiKey=${encodeURIComponent(apiKey)}`;
  const inject = JSON.stringify({ fromNumber: "+15550001111", fromName: "Ana", text: "hello" });
  return [
    "",
    "Pipes.bot emulator running",
    `  REST base URL : ${url}`,
    `  WebSocket URL : ${wsUrl}`,
    `  API key       : ${apiKey}`,
    `  Phone page    : ${url}/phone  (chat with your bot in a browser)`,
    `  Pool number   : ${DEFAULT_POOL_NUMBER.id} (${DEFAULT_POOL_NUMBER.phoneNumber})`,
    "",
    "Inject an inbound WhatsApp message:",
    `  curl -s -X POST ${url}/_emulator/inbound -H 'Content-Type: application/json' -d '${inject}'`,
    `See what the bot sent: curl -s ${url}/_emulator/sent    State: curl -s ${url}/_emulator/state`,
    "",
  ];
}

async function main(): Promise<void> {
  const io: CliOutput = { out: (line) => console.log(line), err: (line) => console.error(line) };
  const command = parseCliArgs(process.argv.slice(2), process.env);
  if (command.kind === "help") {
    io.out(USAGE);
    return;
  }
  if (command.kind === "error") {
    io.err(`pipes-emulator: ${command.message}`);
    io.err("try --help");
    process.exitCode = 1;
    return;
  }
  const started = await startFromCli(command, io);
  if (typeof started === "number") {
    process.exitCode = started;
    return;
  }
  const shutdown = (): void => {
    void started.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (require.main === module) void main();
