#!/usr/bin/env -S node --
// The setup and operations CLI (package.json bin `dataverse-exchange-sync`, `npm run cli -- ...`): registers the
// Dataverse webhooks, enables and disables mailboxes, prints the status, explains an item, manages the sync
// configuration, and lists and replays dead-lettered changes. Exit codes: 0 done, 1 failed (one line naming the problem), 2 usage error. Every command can be run
// again: it keeps what exists and prints what it changed.
// The shebang (and `npm run cli`) end node's own options with `--`: Node 20 reads `--env-file` anywhere on its command
// line, so without it a missing settings file would stop node itself (exit 9) before this CLI could say so.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigurationError } from '../config.js';
import { createLogger, type LogSink } from '../log.js';
import { createRuntime, type Runtime } from '../runtime.js';
import type { CliIo, CommandContext, CommandSpec, OptionValues } from './command.js';
import { configExportCommand, configHistoryCommand, configImportCommand, configSetCommand, configShowCommand, configUnsetCommand } from './commands/config.js';
import { breakerDiscardCommand, breakerListCommand, breakerReleaseCommand, breakerRestoreCommand, breakerShowCommand } from './commands/breaker.js';
import { registerWebhooksCommand } from './commands/dataverse.js';
import { doctorCommand } from './commands/doctor.js';
import { dlqListCommand, dlqReplayCommand } from './commands/dlq.js';
import { mailboxDisableCommand, mailboxEnableCommand, mailboxListCommand } from './commands/mailbox.js';
import { explainCommand } from './commands/explain.js';
import { statusCommand } from './commands/status.js';
import { fillFromAzdEnvironment, keyVaultSecretReader, mergeEnv, readEnvFile, UsageError, type Env } from './env.js';

export type { CliIo } from './command.js';

const program = 'dataverse-exchange-sync';

/** Every command, in the order help lists them. */
export const commands: readonly CommandSpec[] = [
  registerWebhooksCommand,
  mailboxEnableCommand,
  mailboxDisableCommand,
  mailboxListCommand,
  statusCommand,
  explainCommand,
  configShowCommand,
  configSetCommand,
  configUnsetCommand,
  configExportCommand,
  configImportCommand,
  configHistoryCommand,
  dlqListCommand,
  dlqReplayCommand,
  breakerListCommand,
  breakerShowCommand,
  breakerReleaseCommand,
  breakerDiscardCommand,
  breakerRestoreCommand,
  doctorCommand,
];

const globalHelp = [
  'Global options:',
  '  --env-file <path>   read settings from this file first (dotenv syntax, or a flat JSON object when it ends in',
  '                      .json); variables already set in the environment win. Repeatable.',
  '  -h, --help          help for the command',
].join('\n');

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `Usage: ${program} <command> [options]      (from the repository: npm run cli -- <command> [options])`,
    '',
    'Setup and operations of dataverse-exchange-sync. Settings are read from the environment as the app reads them',
    '(README, Configuration); after `eval "$(azd env get-values)"` the missing ones are derived from the azd',
    'outputs and the secrets read from the Key Vault of the deployment with your Azure CLI sign-in.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    globalHelp,
    '',
    `Exit codes: 0 done, 1 failed, 2 usage error. '${program} <command> --help' describes a command.`,
  ].join('\n');
}

function commandHelp(spec: CommandSpec): string {
  return [`Usage: ${program} ${spec.name}${spec.usage ? ` ${spec.usage}` : ''}`, '', spec.summary + '.', '', spec.help, '', globalHelp].join('\n');
}

function groupHelp(group: string): string {
  const members = commands.filter((c) => c.name.startsWith(`${group} `));
  return [`Usage: ${program} ${group} <command> [options]`, '', 'Commands:', ...members.map((c) => `  ${c.name}  ${c.summary}`)].join('\n');
}

interface Invocation {
  spec?: CommandSpec;
  group?: string;
  help: boolean;
  envFiles: string[];
  rest: string[];
}

/** Splits argv into global options, the command words and the command's own arguments. */
function locate(argv: readonly string[]): Invocation {
  const envFiles: string[] = [];
  const args: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (arg === '--env-file') {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('-')) throw new UsageError('--env-file needs a path');
      envFiles.push(value);
      i += 1;
    } else if (arg.startsWith('--env-file=')) {
      envFiles.push(arg.slice('--env-file='.length));
    } else if (arg === '--help' || arg === '-h') {
      help = true;
    } else {
      args.push(arg);
    }
  }
  const words: string[] = [];
  for (const arg of args) {
    if (arg.startsWith('-') || words.length === 2) break;
    words.push(arg);
  }
  const two = words.length === 2 ? commands.find((c) => c.name === words.join(' ')) : undefined;
  if (two) return { spec: two, help, envFiles, rest: args.slice(2) };
  const one = commands.find((c) => c.name === words[0]);
  if (one) return { spec: one, help, envFiles, rest: args.slice(1) };
  const group = words[0] !== undefined && commands.some((c) => c.name.startsWith(`${words[0]} `)) ? words[0] : undefined;
  if (group) {
    if (help) return { group, help, envFiles, rest: [] };
    const names = commands.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.split(' ')[1]);
    throw new UsageError(
      words[1] === undefined ? `missing ${group} command: one of ${names.join(', ')}` : `unknown ${group} command "${words[1]}": one of ${names.join(', ')}`,
      `${program} ${group} <command> [options]`,
    );
  }
  if (words[0] !== undefined) throw new UsageError(`unknown command "${words[0]}"`, `${program} <command> [options]`);
  if (!help && args.length > 0) throw new UsageError(`missing command before ${args[0]}`, `${program} <command> [options]`);
  if (!help) throw new UsageError('missing command', `${program} <command> [options]`);
  return { help, envFiles, rest: [] };
}

function parseCommandArgs(spec: CommandSpec, rest: string[]): { values: OptionValues; positionals: string[] } {
  const usage = `${program} ${spec.name}${spec.usage ? ` ${spec.usage}` : ''}`;
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: spec.options, allowPositionals: true, strict: true }) as { values: OptionValues; positionals: string[] };
  } catch (error) {
    // Node's messages go on with advice about "--" that does not apply here; the first sentence names the problem.
    const message = (error as Error).message.split(/\.(\s|$)/)[0] ?? String(error);
    throw new UsageError(message.replace(/^Unknown option/, `${spec.name}: unknown option`), usage);
  }
  const { min, max, names } = spec.positionals;
  if (parsed.positionals.length < min) throw new UsageError(`${spec.name} needs ${names}`, usage);
  if (parsed.positionals.length > max) {
    throw new UsageError(`${spec.name}: unexpected argument "${parsed.positionals[max]}"`, usage);
  }
  return parsed;
}

const defaultIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/** Runs the CLI with these arguments (without node and script) and writers; resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let runtime: Runtime | undefined;
  let usage: string | undefined;
  try {
    const invocation = locate(argv);
    if (invocation.help) {
      io.stdout(`${invocation.spec ? commandHelp(invocation.spec) : invocation.group ? groupHelp(invocation.group) : topHelp()}\n`);
      return 0;
    }
    const spec = invocation.spec!;
    usage = `${program} ${spec.name}${spec.usage ? ` ${spec.usage}` : ''}`;
    const { values, positionals } = parseCommandArgs(spec, invocation.rest);
    let env: Env = mergeEnv(io.env ?? process.env, invocation.envFiles.map(readEnvFile));
    const now = io.now ?? (() => new Date());
    // Library warnings (a retried call, a renewal) go to stderr as one line each; stdout stays the command's output.
    const sink: LogSink = (level, message, props) => io.stderr(`${level}: ${message}${Object.keys(props).length ? ` ${JSON.stringify(props)}` : ''}\n`);
    const ctx: CommandContext = {
      out: (line = '') => io.stdout(`${line}\n`),
      warn: (line) => io.stderr(`warning: ${line}\n`),
      progress: (line) => io.stderr(`${line}\n`),
      get env() {
        return env;
      },
      now,
      async runtime() {
        if (runtime) return runtime;
        if (env.AZURE_KEY_VAULT_NAME || env.AZURE_STORAGE_ACCOUNT_NAME || env.SERVICE_BUS_NAMESPACE) {
          const vault = env.AZURE_KEY_VAULT_NAME;
          const filled = await fillFromAzdEnvironment(env, vault ? keyVaultSecretReader(vault) : () => Promise.resolve(undefined));
          env = filled.env;
          if (filled.filled.length) io.stderr(`settings from the azd environment: ${filled.filled.join(', ')}\n`);
        }
        runtime = createRuntime(env, { log: createLogger(sink, 'warn'), now });
        return runtime;
      },
    };
    await spec.run(ctx, values, positionals);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\nusage: ${error.usage ?? usage ?? `${program} <command> [options]`}\n(--help for details)\n`);
      return 2;
    }
    if (error instanceof ConfigurationError) {
      io.stderr(`error: invalid configuration: ${error.problems.map((p) => `${p.setting} ${p.message}`).join('; ')}\n`);
      return 1;
    }
    io.stderr(`error: ${(error as Error)?.message ?? String(error)}\n`);
    return 1;
  } finally {
    await runtime?.close().catch(() => undefined);
  }
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Keep-alive sockets of the HTTP clients would hold the process for seconds after the work is done.
  setTimeout(() => process.exit(code), 200).unref();
}
