// The shape of one CLI command and what it gets to run: parsed arguments, output writers, and the runtime built
// from the settings only when the command needs it (so `--help` and usage errors need no configuration).
import type { ParseArgsConfig } from 'node:util';
import type { Runtime } from '../runtime.js';
import type { Env } from './env.js';

export interface CliIo {
  /** Writes one chunk of standard output (the CLI adds line ends). */
  stdout(text: string): void;
  stderr(text: string): void;
  /** The environment to read settings from (default process.env). */
  env?: Env;
  now?: () => Date;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  /** Prints one line to standard output. */
  out(line?: string): void;
  /** Prints one warning line to standard error. */
  warn(line: string): void;
  /** Prints one progress line to standard error (stdout stays the command's result). */
  progress(line: string): void;
  /** The settings environment after --env-file and the azd fill-in. */
  env: Env;
  /** The runtime from the settings (built once, closed by main). */
  runtime(): Promise<Runtime>;
  now(): Date;
}

export interface CommandSpec {
  /** The words that select it, e.g. "mailbox enable". */
  name: string;
  summary: string;
  /** Arguments after the name, as shown in usage lines. */
  usage: string;
  /** More help text: options and behaviour. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Positional arguments: how many are required and allowed. */
  positionals: { min: number; max: number; names: string };
  run(ctx: CommandContext, values: OptionValues, positionals: string[]): Promise<void>;
}
