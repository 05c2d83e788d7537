// Structured logging with context (correlation id, mailbox, item ids), never secrets or item bodies. Lines go to
// stdout (in Azure the Functions host turns them into plain trace messages) and, when telemetry is on, to
// Application Insights as log records whose allowed properties are dimensions (shared/telemetry).
import { emitLog } from './telemetry/index.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogProps = Record<string, unknown>;

export interface Logger {
  debug(message: string, props?: LogProps): void;
  info(message: string, props?: LogProps): void;
  warn(message: string, props?: LogProps): void;
  error(message: string, props?: LogProps): void;
  /** A logger that adds these properties to every line. */
  with(props: LogProps): Logger;
}

export type LogSink = (level: LogLevel, message: string, props: LogProps) => void;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Property names that must never reach a log line. */
const forbidden = /secret|password|token|authorization|clientstate|key|body|description|content/i;

function scrub(props: LogProps): LogProps {
  const out: LogProps = {};
  for (const [k, v] of Object.entries(props)) out[k] = forbidden.test(k) && k !== 'correlationId' ? '[redacted]' : v;
  return out;
}

export const consoleSink: LogSink = (level, message, props) => {
  const line = JSON.stringify({ t: new Date().toISOString(), level, msg: message, ...props });
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
};

export function createLogger(sink: LogSink = consoleSink, minLevel: LogLevel = (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info', base: LogProps = {}): Logger {
  const emit = (level: LogLevel, message: string, props: LogProps = {}) => {
    if (order[level] < (order[minLevel] ?? 20)) return;
    const scrubbed = scrub({ ...base, ...props });
    sink(level, message, scrubbed);
    emitLog(level, message, scrubbed);
  };
  return {
    debug: (m, p) => emit('debug', m, p),
    info: (m, p) => emit('info', m, p),
    warn: (m, p) => emit('warn', m, p),
    error: (m, p) => emit('error', m, p),
    with: (props) => createLogger(sink, minLevel, { ...base, ...props }),
  };
}
