// `npm start`: the whole sync running locally for a person to try: the identity provider, the Graph, Dataverse and
// Service Bus simulators, Azurite and the local Functions host on port 7071 with its timers, two users (alice, bob)
// with a few items on both sides, and one console line per sync. Writes .local/sandbox/env.json (the settings and
// the simulators' admin URLs) for `npm run sandbox` and `npm run cli -- --env-file .local/sandbox/env.json`.
// SANDBOX_DIR moves that folder (the tests run sandboxes beside a person's).
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { registerWebhooks } from '../shared/onboarding/webhooks.js';
import { enableMailbox } from '../shared/onboarding/mailbox.js';
import type { LogLevel, LogProps, LogSink } from '../shared/log.js';
import { emptySyncTables, startStack, type Stack } from './stack/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const sandboxDir = process.env.SANDBOX_DIR ? resolve(process.env.SANDBOX_DIR) : join(root, '.local/sandbox');
export const sandboxEnvPath = join(sandboxDir, 'env.json');
export const syncLogPath = join(sandboxDir, 'sync.log');
const tracked = 'Tracked to Dynamics 365';

const usage = `Usage: npm start [-- --storage <folder>] [--port <n>] [--no-seed] [--verbose]

  --storage <folder>  Azurite writes the sync's tables to this folder (to look at them while or after it runs);
                      the simulators keep nothing, so each start empties the tables and begins a new world
  --port <n>          port of the local Functions host (default 7071, as Core Tools; 0 takes a free one)
  --no-seed           start with empty mailboxes and an empty Dynamics 365
  --verbose           print every log line (host, timers, echoes) instead of one line per sync`;

function parse(): { storage?: string; port: number; seed: boolean; verbose: boolean } {
  try {
    const { values } = parseArgs({
      options: { storage: { type: 'string' }, port: { type: 'string' }, 'no-seed': { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    const port = values.port === undefined ? 7071 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${values.port}"`);
    return { ...(values.storage ? { storage: resolve(values.storage) } : {}), port, seed: !values['no-seed'], verbose: values.verbose ?? false };
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

/** The pid of a sandbox that is still running with this folder's env.json, if any. */
function runningSandbox(): number | undefined {
  if (!existsSync(sandboxEnvPath)) return undefined;
  try {
    const pid = Number((JSON.parse(readFileSync(sandboxEnvPath, 'utf8')) as { SANDBOX_PID?: string }).SANDBOX_PID);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined; // unreadable, or its process is gone: a leftover of a sandbox that did not stop cleanly
  }
}

/** Fails fast, before anything starts, when the host's port is taken. */
async function ensurePortFree(port: number): Promise<void> {
  await new Promise<void>((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `port ${port} is taken (another npm start, or a Functions host?). Stop it, or choose another port: npm start -- --port <n>`
            : `cannot listen on 127.0.0.1:${port}: ${error.message}`,
        ),
      );
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePort()));
  });
}

const time = () => new Date().toISOString().slice(11, 19);
const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v));

const directions: Record<string, string> = { toExchange: 'Dynamics 365 -> Outlook', toDataverse: 'Outlook -> Dynamics 365', lifecycle: 'Graph lifecycle' };

/** What a line is about: kind, ids, direction and mailbox, from the log line's fields (never contents). */
export function subjectOf(props: LogProps, who: (id: unknown) => string): string {
  const ids = [props.dataverseId === undefined ? '' : `record ${str(props.dataverseId)}`, props.exchangeId === undefined ? '' : `item ${str(props.exchangeId)}`, props.subscriptionId === undefined ? '' : `subscription ${str(props.subscriptionId)}`]
    .filter(Boolean)
    .join(' / ');
  const parts = [
    props.kind === undefined ? '' : str(props.kind),
    ids,
    props.change === undefined ? '' : `(${str(props.change)})`,
    typeof props.direction === 'string' ? (directions[props.direction] ?? props.direction) : '',
    props.mailboxId === undefined ? '' : `for ${who(props.mailboxId)}`,
  ];
  return parts.filter(Boolean).join(' ');
}

/** The compact console: one line per applied change, warnings and errors; everything with --verbose. */
export function consoleSink(verbose: boolean, names: () => Map<string, string>, write: (line: string) => void = writeLine): LogSink {
  const quiet = new Set(['echo', 'unchanged', 'ignored']);
  const who = (id: unknown) => (typeof id === 'string' ? (names().get(id) ?? id) : '?');
  return (level: LogLevel, message: string, props: LogProps) => {
    if (message === 'change applied') {
      const outcomes = Array.isArray(props.outcomes) ? (props.outcomes as string[]) : [];
      const shown = outcomes.filter((o) => !quiet.has(o.split('@')[0]!));
      if (shown.length === 0 && !verbose) return;
      const what = (shown.length ? shown : outcomes).map((o) => `${o.split('@')[0]}${o.includes('@') ? ` for ${who(o.split('@')[1])}` : ''}`).join(', ');
      write(`${time()}  sync  ${subjectOf(props, who)}: ${what || 'nothing to do'} (${String(props.latencyMs)} ms)`);
      return;
    }
    if (level === 'warn' || level === 'error') {
      // The logger redacts descriptions (they may quote item contents); cause, code and status say what happened.
      const parts = ['reason', 'cause', 'code', 'status', 'error'].map((k) => (props[k] === undefined ? undefined : `${k === 'status' ? 'status ' : ''}${str(props[k])}`)).filter((v): v is string => v !== undefined);
      const detail = parts.filter((p, i) => !parts.some((q, j) => (j < i && q === p) || (j !== i && q !== p && q.includes(p)))).join(': ');
      const attempt = typeof props.attempt === 'number' ? `attempt ${props.attempt}${typeof props.nextAttempt === 'number' ? `, next in ${Math.round(Number(props.waitMs ?? 0) / 1000)} s` : ''}` : '';
      const subject = subjectOf(props, who);
      write(`${time()}  ${level.toUpperCase()}  ${message}${subject ? ` - ${subject}` : ''}${detail ? `: ${detail}` : ''}${attempt ? ` (${attempt})` : ''}`);
      return;
    }
    if (verbose) write(`${time()}  ${level}  ${message}${Object.keys(props).length ? ` ${JSON.stringify(props)}` : ''}`);
  };
}

function writeLine(line: string): void {
  console.log(line);
  try {
    appendFileSync(syncLogPath, `${line}\n`);
  } catch {
    // The log file is a convenience for `npm run sandbox -- watch`; the console has the line.
  }
}

const at = (days: number, hourUtc: number) => {
  const d = new Date(Date.now() + days * 86_400_000);
  d.setUTCHours(hourUtc, 0, 0, 0);
  return d;
};
const graphTime = (d: Date) => ({ dateTime: d.toISOString().replace('Z', ''), timeZone: 'UTC' });

/** A few items on both sides, some tracked in Outlook and some not; all of them sync (or stay) as the rules say. */
async function seed(stack: Stack): Promise<string[]> {
  const alice = stack.users.alice!;
  const bob = stack.users.bob!;
  const dv = stack.dataverse.admin;
  const g = stack.graph.admin;
  const lines: string[] = [];
  const review = at(2, 9);
  dv.as(alice.systemUserId).create('appointments', {
    subject: 'Quarterly review',
    scheduledstart: review.toISOString(),
    scheduledend: new Date(review.getTime() + 3_600_000).toISOString(),
    location: 'Room 4',
    'ownerid@odata.bind': `/systemusers(${alice.systemUserId})`,
    appointment_activity_parties: [
      { 'partyid_systemuser@odata.bind': `/systemusers(${alice.systemUserId})`, participationtypemask: 7 },
      { 'partyid_systemuser@odata.bind': `/systemusers(${bob.systemUserId})`, participationtypemask: 5 },
    ],
  });
  lines.push('Dynamics 365: appointment "Quarterly review" (alice organizes, bob attends)');
  dv.as(alice.systemUserId).create('tasks', { subject: 'Send the proposal', scheduledend: at(3, 16).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
  dv.as(bob.systemUserId).create('tasks', { subject: 'Review the contract', scheduledend: at(1, 16).toISOString(), prioritycode: 2, 'ownerid@odata.bind': `/systemusers(${bob.systemUserId})` });
  lines.push('Dynamics 365: tasks "Send the proposal" (alice), "Review the contract" (bob)');
  dv.as(alice.systemUserId).create('contacts', {
    firstname: 'Carol',
    lastname: 'Clark',
    emailaddress1: 'carol@fabrikam.example',
    jobtitle: 'Buyer',
    'ownerid@odata.bind': `/systemusers(${alice.systemUserId})`,
  });
  lines.push('Dynamics 365: contact "Carol Clark" (alice)');
  await g.createEvent(alice.userPrincipalName, { subject: 'Lunch with Fabrikam', start: graphTime(at(1, 11)), end: graphTime(at(1, 12)), categories: [tracked] });
  await g.createEvent(alice.userPrincipalName, { subject: 'Dentist', start: graphTime(at(1, 14)), end: graphTime(at(1, 15)) });
  await g.createEvent(bob.userPrincipalName, { subject: 'Team sync', start: graphTime(at(1, 14)), end: graphTime(at(1, 15)), categories: [tracked] });
  lines.push('Outlook: events "Lunch with Fabrikam" (alice, tracked), "Dentist" (alice, not tracked), "Team sync" (bob, tracked)');
  await g.createTask(alice.userPrincipalName, { title: 'Call Dave', dueDateTime: graphTime(at(2, 0)), categories: [tracked] });
  lines.push('To Do: task "Call Dave" (alice, tracked; To Do is polled once a minute)');
  await g.createContact(alice.userPrincipalName, { givenName: 'Dave', surname: 'Doe', emailAddresses: [{ address: 'dave@contoso-partner.example', name: 'Dave Doe' }], categories: [tracked] });
  await g.createContact(bob.userPrincipalName, { givenName: 'Erin', surname: 'Evans', emailAddresses: [{ address: 'erin@example.org', name: 'Erin Evans' }] });
  lines.push('Outlook: contacts "Dave Doe" (alice, tracked), "Erin Evans" (bob, not tracked)');
  return lines;
}

/** Set once this process has written env.json: only then is it ours to remove. */
let wroteEnv = false;

/** Creates (or truncates) a file that only the current user may read: it holds keys or sync lines. */
function writePrivate(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600); // the mode applies only when the file is created
}

async function run(): Promise<void> {
  const options = parse();
  // Nothing is touched before both checks: a second npm start must leave the running sandbox's files alone.
  const other = runningSandbox();
  if (other !== undefined) throw new Error(`a sandbox is already running (pid ${other}, ${sandboxEnvPath}): stop it with Ctrl+C first`);
  await ensurePortFree(options.port);
  mkdirSync(sandboxDir, { recursive: true, mode: 0o700 });
  writePrivate(syncLogPath, '');
  let names = new Map<string, string>();
  console.log('Starting the identity provider, simulators, Azurite and the local Functions host...');
  const stack = await startStack({
    hostPort: options.port,
    runTimers: true,
    onboard: false,
    ...(options.storage ? { storageFolder: options.storage } : {}),
    logSink: consoleSink(options.verbose, () => names),
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping...`);
    if (wroteEnv) rmSync(sandboxEnvPath, { force: true });
    await stack.close();
    console.log('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  names = new Map(Object.values(stack.users).map((u) => [u.graph.id, u.key]));

  const rt = stack.runtime;
  if (options.storage) {
    const deleted = await emptySyncTables(rt);
    if (deleted > 0) console.log(`Emptied the sync's tables in ${options.storage} (${deleted} rows of an earlier run): the simulators start empty.`);
  }
  await registerWebhooks(rt.dataverse, { url: `${stack.host.origin}/api/dataverse/webhook?code=${stack.functionKey}`, key: rt.settings.DATAVERSE_WEBHOOK_KEY });
  for (const user of Object.values(stack.users)) await enableMailbox(rt, user.userPrincipalName);

  const env: Record<string, string> = {
    ...stack.env,
    DATAVERSE_WEBHOOK_FUNCTION_KEY: stack.functionKey,
    SANDBOX_GRAPH_ADMIN_URL: stack.graph.baseUrl,
    SANDBOX_DATAVERSE_ADMIN_URL: stack.dataverse.url,
    SANDBOX_HOST_URL: stack.host.origin,
    SANDBOX_FUNCTION_KEY: stack.functionKey,
    SANDBOX_SYNC_LOG: syncLogPath,
    SANDBOX_PID: String(process.pid),
  };
  writePrivate(sandboxEnvPath, `${JSON.stringify(env, null, 2)}\n`);
  wroteEnv = true;

  if (options.seed) {
    console.log('\nSeeding:');
    for (const line of await seed(stack)) console.log(`  ${line}`);
    console.log('');
  }
  await stack.settled({ timeoutMs: 60_000 });
  const envArg = relative(process.cwd(), sandboxEnvPath) || sandboxEnvPath;
  console.log(`
Ready. The local Functions host is ${stack.host.origin}/api (its function key: npm run -s sandbox -- key)
Status page: ${stack.host.origin}/api/status/page?code=<key>  (the whole URL: npm run -s sandbox -- status-page)
Settings and admin URLs: ${sandboxEnvPath} (readable by you only: it holds the keys)

Try, in another terminal:
  npm run sandbox -- outlook create-event alice "Lunch" --in 2h --track     a tracked Outlook event reaches Dynamics 365
  npm run sandbox -- outlook list alice                                    alice's calendar, tasks and contacts
  npm run sandbox -- dynamics create-appointment alice "Review" --in 1d --with bob
  npm run sandbox -- dynamics list appointments                             what Dynamics 365 holds
  npm run sandbox -- dynamics complete-task alice <id>                      ids from: npm run sandbox -- dynamics list tasks
  npm run sandbox -- --help                                                 every command: edit and delete on both sides
  npm run sandbox -- watch                                                  follow the syncs below from there
  npm run cli -- --env-file ${envArg} status          the operations CLI against this sandbox
  npm run sandbox -- fault graph --status 403 && npm run sandbox -- dynamics create-appointment alice "Budget" --in 2d
  npm run cli -- --env-file ${envArg} dlq list        ...the refused create is dead-lettered

Syncs appear below, one line each. Ctrl+C stops everything.
`);
}

run().catch((error: unknown) => {
  console.error(`error: ${(error as Error)?.message ?? String(error)}`);
  if (wroteEnv) rmSync(sandboxEnvPath, { force: true });
  process.exit(1);
});
