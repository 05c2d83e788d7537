// `npm run sandbox -- <command>`: act as a person on the sandbox that `npm start` runs, through the simulators'
// HTTP admin APIs (as Outlook / To Do and as Dynamics 365 would change things), and watch what the sync does.
// Reads the admin URLs from .local/sandbox/env.json, which `npm start` writes and removes when it stops.
import { existsSync, readFileSync, statSync, watch } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { formatTable } from '../shared/cli/format.js';
import { DataverseAdminClient } from './sim/dataverse/admin.js';
import { GraphSimAdminClient } from './sim/graph/adminClient.js';
import type { SimUserView } from './sim/graph/adminTypes.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const envPath = join(root, '.local/sandbox/env.json');
const tracked = 'Tracked to Dynamics 365';

const help = `Usage: npm run sandbox -- <command> [options]     (needs a running npm start)

Outlook and To Do (as the mailbox user; <user> is alice, bob or a full address):
  outlook create-event <user> <subject> [--in 2h] [--duration 1h] [--with <user>]... [--track]
  outlook track <user> <eventId>          set the "${tracked}" category (the item then syncs)
  outlook untrack <user> <eventId>        clear it
  outlook delete-event <user> <eventId>
  outlook create-task <user> <title> [--due 1d] [--track]
  outlook list <user>                     calendar, To Do tasks and contacts with their ids

Dynamics 365 (as the user):
  dynamics create-appointment <user> <subject> [--in 1d] [--duration 1h] [--with <user>]...
  dynamics create-task <user> <subject> [--due 1d]
  dynamics complete-task <user> <taskId>
  dynamics list appointments|tasks|contacts

Faults (to try the dead-letter tools):
  fault graph [--method POST] [--path '/events$'] [--status 403] [--times 1]
                                          Exchange fails the next matching request(s); e.g. then create an
                                          appointment in Dynamics 365 and see it in: npm run cli -- ... dlq list

Other:
  watch                                   follow the sync lines npm start prints
  env                                     print the sandbox settings as shell exports (eval "$(npm run -s sandbox -- env)")

Times: --in / --due / --duration take a number and a unit: 30m, 2h, 1d, 1w.`;

class UsageError extends Error {}

const sandboxEnvSchema = z
  .object({
    SANDBOX_GRAPH_ADMIN_URL: z.string().url(),
    SANDBOX_DATAVERSE_ADMIN_URL: z.string().url(),
    SANDBOX_SYNC_LOG: z.string().min(1),
    SANDBOX_PID: z.string().regex(/^\d+$/),
  })
  .catchall(z.string());
type SandboxEnv = z.infer<typeof sandboxEnvSchema>;

function loadSandbox(): SandboxEnv {
  if (!existsSync(envPath)) throw new Error(`no sandbox is running (${envPath} does not exist): start one with npm start`);
  const parsed = sandboxEnvSchema.safeParse(JSON.parse(readFileSync(envPath, 'utf8')));
  if (!parsed.success) throw new Error(`${envPath} is not what npm start writes: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  try {
    process.kill(Number(parsed.data.SANDBOX_PID), 0);
  } catch {
    throw new Error(`the npm start that wrote ${envPath} (pid ${parsed.data.SANDBOX_PID}) is not running any more: start it again`);
  }
  return parsed.data;
}

/** Milliseconds of "30m", "2h", "1d", "1w". */
export function duration(value: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)([mhdw])$/.exec(value.trim());
  if (!m) throw new UsageError(`${option} takes a number and a unit (m, h, d, w), e.g. 2h; got "${value}"`);
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
}

/** Now plus an offset, on the next quarter hour (as a person picks times). */
const startAt = (offsetMs: number) => new Date(Math.ceil((Date.now() + offsetMs) / 900_000) * 900_000);
const graphTime = (d: Date) => ({ dateTime: d.toISOString().replace('Z', ''), timeZone: 'UTC' });

interface Clients {
  graph: GraphSimAdminClient;
  dataverse: DataverseAdminClient;
  env: SandboxEnv;
}

async function graphUser(c: Clients, name: string): Promise<SimUserView> {
  const users = await c.graph.users();
  const key = name.toLowerCase();
  const user = users.find((u) => u.userPrincipalName.toLowerCase() === key || u.userPrincipalName.toLowerCase().startsWith(`${key}@`) || u.id === name);
  if (!user) throw new UsageError(`no user "${name}" in the sandbox (users: ${users.map((u) => u.userPrincipalName.split('@')[0]).join(', ')})`);
  return user;
}

async function systemUser(c: Clients, name: string): Promise<{ id: string; upn: string }> {
  const user = await graphUser(c, name);
  const [row] = await c.dataverse.records('systemusers', `internalemailaddress eq '${user.userPrincipalName.replace(/'/g, "''")}'`);
  if (!row || typeof row.systemuserid !== 'string') throw new Error(`${user.userPrincipalName} has no Dynamics 365 user`);
  return { id: row.systemuserid, upn: user.userPrincipalName };
}

function words(positionals: string[], count: number, usage: string): string[] {
  if (positionals.length !== count) throw new UsageError(`usage: npm run sandbox -- ${usage}`);
  return positionals;
}

/** A JSON value as table text: strings and numbers as they are, anything else empty. */
const text = (value: unknown) => (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '');
const short = (value: unknown) => (typeof value === 'string' ? value.replace(/\.\d+Z?$/, '').replace('T', ' ') : '');

async function outlook(c: Clients, sub: string | undefined, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { in: { type: 'string' }, duration: { type: 'string' }, due: { type: 'string' }, with: { type: 'string', multiple: true }, track: { type: 'boolean' } },
  });
  switch (sub) {
    case 'create-event': {
      const [who, subject] = words(positionals, 2, 'outlook create-event <user> <subject> [--in 2h] [--duration 1h] [--with <user>]... [--track]');
      const user = await graphUser(c, who!);
      const start = startAt(duration(values.in ?? '1h', '--in'));
      const end = new Date(start.getTime() + duration(values.duration ?? '1h', '--duration'));
      const attendees = await Promise.all((values.with ?? []).map(async (w) => {
        const a = await graphUser(c, w);
        return { emailAddress: { address: a.mail, name: a.displayName }, type: 'required' };
      }));
      const event = await c.graph.createEvent(user.userPrincipalName, {
        subject,
        start: graphTime(start),
        end: graphTime(end),
        ...(attendees.length ? { attendees } : {}),
        ...(values.track ? { categories: [tracked] } : {}),
      });
      console.log(`Created event ${String(event.id)} in ${user.userPrincipalName}'s calendar: "${subject}" ${start.toISOString()} - ${end.toISOString()}${values.track ? ` (${tracked})` : ' (not tracked: it stays in Outlook until you track it)'}`);
      return;
    }
    case 'track':
    case 'untrack': {
      const [who, id] = words(positionals, 2, `outlook ${sub} <user> <eventId>`);
      const user = await graphUser(c, who!);
      await c.graph.setCategory(user.userPrincipalName, 'event', id!, tracked, sub === 'track');
      console.log(`${sub === 'track' ? 'Set' : 'Cleared'} "${tracked}" on event ${id!}.`);
      return;
    }
    case 'delete-event': {
      const [who, id] = words(positionals, 2, 'outlook delete-event <user> <eventId>');
      const user = await graphUser(c, who!);
      await c.graph.deleteEvent(user.userPrincipalName, id!);
      console.log(`Deleted event ${id!} from ${user.userPrincipalName}'s calendar.`);
      return;
    }
    case 'create-task': {
      const [who, title] = words(positionals, 2, 'outlook create-task <user> <title> [--due 1d] [--track]');
      const user = await graphUser(c, who!);
      const due = startAt(duration(values.due ?? '1d', '--due'));
      const task = await c.graph.createTask(user.userPrincipalName, { title, dueDateTime: graphTime(due), ...(values.track ? { categories: [tracked] } : {}) });
      console.log(`Created To Do task ${String(task.id)} for ${user.userPrincipalName}: "${title}" due ${due.toISOString().slice(0, 10)} (To Do is polled once a minute)`);
      return;
    }
    case 'list': {
      const [who] = words(positionals, 1, 'outlook list <user>');
      const user = await graphUser(c, who!);
      const items = await c.graph.items({ user: user.id });
      const cats = (item: Record<string, unknown>) => (Array.isArray(item.categories) && item.categories.includes(tracked) ? 'tracked' : '');
      const of = (kind: string) => items.filter((i) => i.kind === kind);
      console.log(`Calendar of ${user.userPrincipalName}:`);
      console.log(
        formatTable(
          ['ID', 'SUBJECT', 'START (UTC)', 'ORGANIZER', 'TRACKED'],
          of('event').map((e) => [e.id, text(e.item.subject), short((e.item.start as { dateTime?: string } | undefined)?.dateTime), String((e.item.organizer as { emailAddress?: { address?: string } } | undefined)?.emailAddress?.address ?? ''), cats(e.item)]),
        ),
      );
      console.log(`\nTo Do tasks:`);
      console.log(formatTable(['ID', 'TITLE', 'STATUS', 'DUE', 'TRACKED'], of('todoTask').map((t) => [t.id, text(t.item.title), text(t.item.status), short((t.item.dueDateTime as { dateTime?: string } | undefined)?.dateTime), cats(t.item)])));
      console.log(`\nContacts:`);
      console.log(
        formatTable(
          ['ID', 'NAME', 'E-MAIL', 'TRACKED'],
          of('contact').map((p) => [p.id, text(p.item.displayName), ((p.item.emailAddresses as { address?: string }[] | undefined) ?? []).map((a) => a.address).join(', '), cats(p.item)]),
        ),
      );
      return;
    }
    default:
      throw new UsageError(`unknown outlook command "${sub ?? ''}": one of create-event, track, untrack, delete-event, create-task, list`);
  }
}

const sets = { appointments: 'appointments', tasks: 'tasks', contacts: 'contacts' } as const;

async function dynamics(c: Clients, sub: string | undefined, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { in: { type: 'string' }, duration: { type: 'string' }, due: { type: 'string' }, with: { type: 'string', multiple: true } },
  });
  switch (sub) {
    case 'create-appointment': {
      const [who, subject] = words(positionals, 2, 'dynamics create-appointment <user> <subject> [--in 1d] [--duration 1h] [--with <user>]...');
      const owner = await systemUser(c, who!);
      const start = startAt(duration(values.in ?? '1d', '--in'));
      const end = new Date(start.getTime() + duration(values.duration ?? '1h', '--duration'));
      const parties = [{ 'partyid_systemuser@odata.bind': `/systemusers(${owner.id})`, participationtypemask: 7 }];
      for (const w of values.with ?? []) parties.push({ 'partyid_systemuser@odata.bind': `/systemusers(${(await systemUser(c, w)).id})`, participationtypemask: 5 });
      const created = await c.dataverse.act({
        action: 'create',
        userId: owner.id,
        set: 'appointments',
        body: { subject, scheduledstart: start.toISOString(), scheduledend: end.toISOString(), 'ownerid@odata.bind': `/systemusers(${owner.id})`, appointment_activity_parties: parties },
      });
      console.log(`Created appointment ${String(created.activityid)} owned by ${owner.upn}: "${subject}" ${start.toISOString()} - ${end.toISOString()}${values.with?.length ? ` with ${values.with.join(', ')}` : ''}`);
      return;
    }
    case 'create-task': {
      const [who, subject] = words(positionals, 2, 'dynamics create-task <user> <subject> [--due 1d]');
      const owner = await systemUser(c, who!);
      const due = startAt(duration(values.due ?? '1d', '--due'));
      const created = await c.dataverse.act({ action: 'create', userId: owner.id, set: 'tasks', body: { subject, scheduledend: due.toISOString(), 'ownerid@odata.bind': `/systemusers(${owner.id})` } });
      console.log(`Created task ${String(created.activityid)} owned by ${owner.upn}: "${subject}" due ${due.toISOString()}`);
      return;
    }
    case 'complete-task': {
      const [who, id] = words(positionals, 2, 'dynamics complete-task <user> <taskId>');
      const user = await systemUser(c, who!);
      await c.dataverse.act({ action: 'complete', userId: user.id, set: 'tasks', id: id! });
      console.log(`Marked task ${id!} completed as ${user.upn}.`);
      return;
    }
    case 'list': {
      const [what] = words(positionals, 1, 'dynamics list appointments|tasks|contacts');
      if (!(what! in sets)) throw new UsageError(`dynamics list takes appointments, tasks or contacts, not "${what!}"`);
      const rows = await c.dataverse.records(sets[what as keyof typeof sets]);
      const users = new Map((await c.dataverse.records('systemusers')).map((u) => [text(u.systemuserid), text(u.internalemailaddress) || text(u.fullname)]));
      const owner = (r: Record<string, unknown>) => users.get(text(r._ownerid_value)) ?? text(r._ownerid_value);
      // Activity statecode options (Dataverse appointment/task tables): 0 Open, 1 Completed, 2 Canceled, 3 Scheduled.
      const state = (r: Record<string, unknown>) => ['Open', 'Completed', 'Canceled', 'Scheduled'][Number(r.statecode)] ?? text(r.statecode);
      if (what === 'contacts') {
        console.log(formatTable(['ID', 'NAME', 'E-MAIL', 'OWNER'], rows.map((r) => [String(r.contactid), text(r.fullname), text(r.emailaddress1), owner(r)])));
      } else {
        console.log(
          formatTable(
            ['ID', 'SUBJECT', what === 'tasks' ? 'DUE (UTC)' : 'START (UTC)', 'STATE', 'OWNER'],
            rows.map((r) => [String(r.activityid), text(r.subject), short(what === 'tasks' ? r.scheduledend : r.scheduledstart), state(r), owner(r)]),
          ),
        );
      }
      return;
    }
    default:
      throw new UsageError(`unknown dynamics command "${sub ?? ''}": one of create-appointment, create-task, complete-task, list`);
  }
}

/** Prints the sync log from its start and then every line npm start adds, until Ctrl+C. */
async function watchLog(path: string): Promise<void> {
  let offset = 0;
  const file = await open(path, 'r');
  const drain = async () => {
    const size = statSync(path).size;
    if (size <= offset) return;
    const buffer = Buffer.alloc(size - offset);
    await file.read(buffer, 0, buffer.length, offset);
    offset = size;
    process.stdout.write(buffer.toString('utf8'));
  };
  await drain();
  console.log('(watching; Ctrl+C to stop)');
  const watcher = watch(path, () => void drain());
  await new Promise<void>((done) => process.once('SIGINT', done));
  watcher.close();
  await file.close();
}

async function main(argv: string[]): Promise<void> {
  const [group, sub, ...rest] = argv;
  if (!group || group === '--help' || group === '-h' || group === 'help') {
    console.log(help);
    return;
  }
  const env = loadSandbox();
  const clients: Clients = { graph: new GraphSimAdminClient(env.SANDBOX_GRAPH_ADMIN_URL), dataverse: new DataverseAdminClient(env.SANDBOX_DATAVERSE_ADMIN_URL), env };
  switch (group) {
    case 'outlook':
      return outlook(clients, sub, rest);
    case 'dynamics':
      return dynamics(clients, sub, rest);
    case 'watch':
      return watchLog(env.SANDBOX_SYNC_LOG);
    case 'fault': {
      if (sub !== 'graph') throw new UsageError('usage: npm run sandbox -- fault graph [--method POST] [--path <regex>] [--status 403] [--times 1]');
      const { values } = parseArgs({ args: rest, options: { method: { type: 'string' }, path: { type: 'string' }, status: { type: 'string' }, times: { type: 'string' } } });
      const status = Number(values.status ?? '403');
      const times = Number(values.times ?? '1');
      if (!Number.isInteger(status) || status < 400 || status > 599) throw new UsageError(`--status must be an HTTP error status (400-599), got "${values.status}"`);
      if (!Number.isInteger(times) || times < 1) throw new UsageError(`--times must be a whole number of at least 1, got "${values.times}"`);
      const fault = { method: values.method ?? 'POST', path: values.path ?? '/events$', status, times };
      await clients.graph.failNext(fault);
      console.log(`Graph will answer ${status} to the next ${times} request(s) ${fault.method} matching ${fault.path}.`);
      return;
    }
    case 'env':
      for (const [k, v] of Object.entries(env)) if (!k.startsWith('SANDBOX_')) console.log(`export ${k}='${v.replace(/'/g, `'\\''`)}'`);
      return;
    default:
      throw new UsageError(`unknown command "${group}"`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`error: ${(error as Error)?.message ?? String(error)}`);
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error('(npm run sandbox -- --help lists the commands)');
      process.exit(2);
    }
    process.exit(1);
  },
);
