// Runs the local host (index.ts) in a child process (child.ts, under tsx) and gives the parent the same handle as
// the in-process host, plus kill() and restart(): a test kills the host with SIGKILL at a chosen point (e.g. right
// after a service took a write, before the host recorded it) and starts a new one on the same port, storage and
// Service Bus. What the dead host had locked comes back from Service Bus (dev/sim/servicebus/README.md: a session
// released by a lost connection returns its locked messages with the delivery count raised).
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import type { LogSink } from '../../shared/log.js';
import { childMessageSchema, type ChildOptions, type ParentMessage } from './childProtocol.js';
import type { LocalHost, SettledEvent } from './index.js';

export interface ChildHost extends LocalHost {
  /** The running child's process id (changes on restart). */
  readonly pid: number;
  /** SIGKILLs the child at once (no cleanup of any kind) and resolves when it has exited. */
  kill(): Promise<void>;
  /** Starts a new child on the same port and settings; the previous one must be dead (kill) or closed. */
  restart(): Promise<void>;
  /** How many times the child was started. */
  readonly starts: number;
}

/** A free loopback port (the child listens on it for its whole life, across restarts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const childEntry = new URL('./child.ts', import.meta.url);

export async function startChildHost(options: Omit<ChildOptions, 'forwardLogs'> & { logSink?: LogSink }): Promise<ChildHost> {
  const events = new EventEmitter();
  events.setMaxListeners(100);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let starts = 0;
  let nextTimer = 0;
  const pendingTimers = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  const start = async () => {
    const config: ChildOptions = { ...options, forwardLogs: options.logSink !== undefined };
    delete (config as { logSink?: unknown }).logSink;
    const proc = fork(childEntry, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, CHILD_HOST_OPTIONS: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = proc;
    starts += 1;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    void exited.then(() => {
      // A timer the dead child was running will never answer.
      for (const [id, p] of pendingTimers) {
        pendingTimers.delete(id);
        p.reject(new Error('the host process exited while running the timer'));
      }
    });
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) => reject(new Error(`the host process exited before it was ready (${signal ?? code})`));
      proc.once('exit', onExit);
      proc.on('message', (raw) => {
        const parsed = childMessageSchema.safeParse(raw);
        if (!parsed.success) return;
        const m = parsed.data;
        if (m.type === 'ready') {
          proc.off('exit', onExit);
          resolve();
        } else if (m.type === 'settled') {
          const event: SettledEvent = { ...m.event, sessionId: m.event.sessionId };
          events.emit('settled', event);
        } else if (m.type === 'timerDone') {
          const p = pendingTimers.get(m.id);
          pendingTimers.delete(m.id);
          if (m.error) p?.reject(new Error(m.error));
          else p?.resolve();
        } else {
          options.logSink?.(m.level, m.message, m.props);
        }
      });
    });
  };
  const send = (message: ParentMessage) => {
    if (!child?.connected) throw new Error('the host process is not running');
    child.send(message);
  };

  await start();
  return {
    origin: `http://127.0.0.1:${options.port}`,
    port: options.port,
    events,
    get pid() {
      return child?.pid ?? -1;
    },
    get starts() {
      return starts;
    },
    fireTimer(name) {
      const id = (nextTimer += 1);
      return new Promise<void>((resolve, reject) => {
        pendingTimers.set(id, { resolve, reject });
        try {
          send({ type: 'fireTimer', id, name });
        } catch (error) {
          pendingTimers.delete(id);
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    },
    async kill() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await exited;
      await start();
    },
    async close() {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.send({ type: 'close' } satisfies ParentMessage);
        const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
