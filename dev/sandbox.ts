// `npm run sandbox -- <command>`: act as a person on the sandbox that `npm start` runs, through the simulators'
// HTTP admin APIs (as Outlook / To Do and as Dynamics 365 would change things), and watch what the sync does.
// Reads the admin URLs from .local/sandbox/env.json (or $SANDBOX_DIR/env.json), which `npm start` writes and removes
// when it stops.
import { existsSync, readFileSync, statSync, watch } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { formatTable } from '../shared/cli/format.js';
import { ianaZoneOf } from '../shared/timeZones.js';
import { DataverseAdminClient } from './sim/dataverse/admin.js';
import { GraphSimAdminClient } from './sim/graph/adminClient.js';
import type { SimUserView } from './sim/graph/adminTypes.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const envPath = join(process.env.SANDBOX_DIR ? resolve(process.env.SANDBOX_DIR) : join(root, '.local/sandbox'), 'env.json');
const tracked = 'Tracked to Dynamics 365';

const help = `Usage: npm run sandbox -- <command> [options]     (needs a running npm start)

Outlook and To Do (as the mailbox user; <user> is alice, bob or a full address):
  outlook create-event <user> <subject> [--in 2h] [--duration 1h] [--with <user>]... [--track]
  outlook update-event <user> <eventId> [--subject <s>] [--in 2h] [--duration 1h] [--location <l>]
  outlook delete-event <user> <eventId>
  outlook create-task <user> <title> [--due 1d] [--track]
  outlook update-task <user> <taskId> [--title <t>] [--due 1d] [--complete | --reopen]
  outlook delete-task <user> <taskId>
  outlook create-contact <user> <given name> <surname> [--email <address>] [--job-title <t>] [--track]
  outlook update-contact <user> <contactId> [--given <g>] [--surname <s>] [--email <address>] [--job-title <t>]
  outlook delete-contact <user> <contactId>
  outlook track <user> <id>               set the "${tracked}" category on an event, task or contact
  outlook untrack <user> <id>             clear it
  outlook list <user>                     calendar, To Do tasks and contacts with their ids

Dynamics 365 (as the user; <kind> is task, phonecall, letter or fax; default task):
  dynamics create-appointment <user> <subject> [--in 1d] [--duration 1h] [--with <user>]...
  dynamics update-appointment <user> <id> [--subject <s>] [--in 1d] [--duration 1h] [--location <l>]
  dynamics delete-appointment <user> <id>
  dynamics create-task <user> <subject> [--due 1d] [--kind <kind>]
  dynamics update-task <user> <id> [--subject <s>] [--due 1d]      (any of the four kinds, found by id)
  dynamics complete-task <user> <id>
  dynamics delete-task <user> <id>
  dynamics create-contact <user> <first name> <last name> [--email <address>] [--job-title <t>]
  dynamics update-contact <user> <id> [--first <f>] [--last <l>] [--email <address>] [--job-title <t>]
  dynamics delete-contact <user> <id>
  dynamics list appointments|tasks|contacts   (tasks lists phone calls, letters and faxes too)

Faults (to try the dead-letter tools):
  fault graph [--method POST] [--path '/events$'] [--status 403] [--times 1]
                                          Exchange fails the next matching request(s); e.g. then create an
                                          appointment in Dynamics 365 and see it in: npm run cli -- ... dlq list

Other:
  watch                                   follow the sync lines npm start prints
  env                                     print the sandbox settings as shell exports, for the CLI without
                                          --env-file: eval "$(npm run -s sandbox -- env)" && npm run cli -- status
  key                                     print the local host's function key (for curl .../api/status?code=<key>)
  status-page                             print the status page's URL with the key, to open in a browser

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
/** A due date as the user sees it: the calendar date in their mailbox's time zone (To Do and Dynamics keep dates). */
const dateIn = (value: unknown, windowsZone: string | undefined) => {
  if (typeof value !== 'string' || value === '') return '';
  const at = DateTime.fromISO(value.endsWith('Z') || /[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`, { zone: 'utc' });
  const zone = windowsZone ? ianaZoneOf(windowsZone) : undefined;
  return (zone ? at.setZone(zone) : at).toISODate() ?? '';
};
const short = (value: unknown) => (typeof value === 'string' ? value.replace(/\.\d+Z?$/, '').replace('T', ' ') : '');

async function outlook(c: Clients, sub: string | undefined, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      in: { type: 'string' },
      duration: { type: 'string' },
      due: { type: 'string' },
      with: { type: 'string', multiple: true },
      track: { type: 'boolean' },
      subject: { type: 'string' },
      location: { type: 'string' },
      title: { type: 'string' },
      complete: { type: 'boolean' },
      reopen: { type: 'boolean' },
      email: { type: 'string' },
      'job-title': { type: 'string' },
      given: { type: 'string' },
      surname: { type: 'string' },
    },
  });
  /** The user's item with this id, of one of the kinds asked for (as a person picks it from their Outlook). */
  const item = async (user: SimUserView, id: string, kinds: string[]) => {
    const found = (await c.graph.items({ user: user.id })).find((i) => i.id === id && kinds.includes(i.kind));
    if (!found) throw new UsageError(`${user.userPrincipalName} has no ${kinds.join(' or ').replace('todoTask', 'To Do task')} ${id} (ids from: npm run sandbox -- outlook list ${user.userPrincipalName.split('@')[0]})`);
    return found;
  };
  const changed = (body: Record<string, unknown>, usage: string) => {
    if (Object.keys(body).length === 0) throw new UsageError(`nothing to change: usage: npm run sandbox -- ${usage}`);
    return body;
  };
  switch (sub) {
    case 'update-event': {
      const usage = 'outlook update-event <user> <eventId> [--subject <s>] [--in 2h] [--duration 1h] [--location <l>]';
      const [who, id] = words(positionals, 2, usage);
      const user = await graphUser(c, who!);
      const event = await item(user, id!, ['event']);
      const body: Record<string, unknown> = {};
      if (values.subject !== undefined) body.subject = values.subject;
      if (values.location !== undefined) body.location = { displayName: values.location };
      if (values.in !== undefined || values.duration !== undefined) {
        const oldStart = new Date(`${String((event.item.start as { dateTime?: string } | undefined)?.dateTime ?? '')}Z`);
        const oldEnd = new Date(`${String((event.item.end as { dateTime?: string } | undefined)?.dateTime ?? '')}Z`);
        const start = values.in !== undefined ? startAt(duration(values.in, '--in')) : oldStart;
        const length = values.duration !== undefined ? duration(values.duration, '--duration') : oldEnd.getTime() - oldStart.getTime();
        body.start = graphTime(start);
        body.end = graphTime(new Date(start.getTime() + length));
      }
      await c.graph.act({ action: 'update', user: user.id, kind: 'event', id: id!, body: changed(body, usage) });
      console.log(`Updated event ${id!} in ${user.userPrincipalName}'s calendar: ${Object.keys(body).join(', ')}.`);
      return;
    }
    case 'update-task': {
      const usage = 'outlook update-task <user> <taskId> [--title <t>] [--due 1d] [--complete | --reopen]';
      const [who, id] = words(positionals, 2, usage);
      if (values.complete && values.reopen) throw new UsageError('--complete and --reopen exclude each other');
      const user = await graphUser(c, who!);
      const task = await item(user, id!, ['todoTask']);
      const body: Record<string, unknown> = {};
      if (values.title !== undefined) body.title = values.title;
      if (values.due !== undefined) body.dueDateTime = graphTime(startAt(duration(values.due, '--due')));
      if (values.complete) body.status = 'completed';
      if (values.reopen) body.status = 'notStarted';
      await c.graph.act({ action: 'update', user: user.id, kind: 'todoTask', id: id!, listId: task.parentId, body: changed(body, usage) });
      console.log(`Updated To Do task ${id!} of ${user.userPrincipalName}: ${Object.keys(body).join(', ')} (To Do is polled once a minute).`);
      return;
    }
    case 'delete-task':
    case 'delete-contact': {
      const kind = sub === 'delete-task' ? 'todoTask' : 'contact';
      const [who, id] = words(positionals, 2, `outlook ${sub} <user> <${sub === 'delete-task' ? 'taskId' : 'contactId'}>`);
      const user = await graphUser(c, who!);
      const found = await item(user, id!, [kind]);
      await c.graph.act({ action: 'delete', user: user.id, kind, id: id!, ...(kind === 'todoTask' ? { listId: found.parentId } : {}) });
      console.log(`Deleted ${kind === 'todoTask' ? 'To Do task' : 'contact'} ${id!} of ${user.userPrincipalName}.`);
      return;
    }
    case 'create-contact': {
      const [who, given, surname] = words(positionals, 3, 'outlook create-contact <user> <given name> <surname> [--email <address>] [--job-title <t>] [--track]');
      const user = await graphUser(c, who!);
      const contact = await c.graph.createContact(user.userPrincipalName, {
        givenName: given,
        surname,
        ...(values.email ? { emailAddresses: [{ address: values.email, name: `${given!} ${surname!}` }] } : {}),
        ...(values['job-title'] ? { jobTitle: values['job-title'] } : {}),
        ...(values.track ? { categories: [tracked] } : {}),
      });
      console.log(`Created contact ${String(contact.id)} for ${user.userPrincipalName}: ${given!} ${surname!}${values.track ? ` (${tracked})` : ' (not tracked: it stays in Outlook until you track it)'}`);
      return;
    }
    case 'update-contact': {
      const usage = 'outlook update-contact <user> <contactId> [--given <g>] [--surname <s>] [--email <address>] [--job-title <t>]';
      const [who, id] = words(positionals, 2, usage);
      const user = await graphUser(c, who!);
      await item(user, id!, ['contact']);
      const body: Record<string, unknown> = {};
      if (values.given !== undefined) body.givenName = values.given;
      if (values.surname !== undefined) body.surname = values.surname;
      if (values.email !== undefined) body.emailAddresses = [{ address: values.email }];
      if (values['job-title'] !== undefined) body.jobTitle = values['job-title'];
      await c.graph.act({ action: 'update', user: user.id, kind: 'contact', id: id!, body: changed(body, usage) });
      console.log(`Updated contact ${id!} of ${user.userPrincipalName}: ${Object.keys(body).join(', ')}.`);
      return;
    }
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
      const [who, id] = words(positionals, 2, `outlook ${sub} <user> <id>`);
      const user = await graphUser(c, who!);
      const found = await item(user, id!, ['event', 'todoTask', 'contact']);
      await c.graph.setCategory(user.userPrincipalName, found.kind as 'event' | 'todoTask' | 'contact', id!, tracked, sub === 'track', found.kind === 'todoTask' ? found.parentId : undefined);
      console.log(`${sub === 'track' ? 'Set' : 'Cleared'} "${tracked}" on ${found.kind === 'todoTask' ? 'To Do task' : found.kind} ${id!}.`);
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
      console.log(`Created To Do task ${String(task.id)} for ${user.userPrincipalName}: "${title}" due ${dateIn(due.toISOString(), user.timeZone)} (To Do is polled once a minute)`);
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
      console.log(formatTable(['ID', 'TITLE', 'STATUS', 'DUE', 'TRACKED'], of('todoTask').map((t) => [t.id, text(t.item.title), text(t.item.status), dateIn((t.item.dueDateTime as { dateTime?: string } | undefined)?.dateTime, user.timeZone), cats(t.item)])));
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
      throw new UsageError(
        `unknown outlook command "${sub ?? ''}": one of create-event, update-event, delete-event, create-task, update-task, delete-task, create-contact, update-contact, delete-contact, track, untrack, list`,
      );
  }
}

const sets = { appointments: 'appointments', tasks: 'tasks', contacts: 'contacts' } as const;
/** The activities that become To Do tasks, by the name a person types (the Dataverse tables of the same name). */
const taskKinds = { task: 'tasks', phonecall: 'phonecalls', letter: 'letters', fax: 'faxes' } as const;
const taskSets = Object.values(taskKinds);
const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The table holding this record id: one of `candidates`, found by reading them (a sandbox holds few rows). */
async function setOf(c: Clients, id: string, candidates: readonly string[], what: string): Promise<string> {
  if (!guidPattern.test(id)) throw new UsageError(`${what} ids are GUIDs, got "${id}"`);
  const key = (set: string) => (set === 'contacts' ? 'contactid' : 'activityid');
  for (const set of candidates) if ((await c.dataverse.records(set)).some((r) => String(r[key(set)]).toLowerCase() === id.toLowerCase())) return set;
  throw new UsageError(`Dynamics 365 has no ${what} ${id} (ids from: npm run sandbox -- dynamics list ${what === 'contact' ? 'contacts' : what === 'appointment' ? 'appointments' : 'tasks'})`);
}

async function dynamics(c: Clients, sub: string | undefined, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      in: { type: 'string' },
      duration: { type: 'string' },
      due: { type: 'string' },
      with: { type: 'string', multiple: true },
      kind: { type: 'string' },
      subject: { type: 'string' },
      location: { type: 'string' },
      email: { type: 'string' },
      'job-title': { type: 'string' },
      first: { type: 'string' },
      last: { type: 'string' },
    },
  });
  const changed = (body: Record<string, unknown>, usage: string) => {
    if (Object.keys(body).length === 0) throw new UsageError(`nothing to change: usage: npm run sandbox -- ${usage}`);
    return body;
  };
  switch (sub) {
    case 'update-appointment': {
      const usage = 'dynamics update-appointment <user> <id> [--subject <s>] [--in 1d] [--duration 1h] [--location <l>]';
      const [who, id] = words(positionals, 2, usage);
      const user = await systemUser(c, who!);
      await setOf(c, id!, ['appointments'], 'appointment');
      const [row] = (await c.dataverse.records('appointments')).filter((r) => String(r.activityid).toLowerCase() === id!.toLowerCase());
      const body: Record<string, unknown> = {};
      if (values.subject !== undefined) body.subject = values.subject;
      if (values.location !== undefined) body.location = values.location;
      if (values.in !== undefined || values.duration !== undefined) {
        const oldStart = new Date(String(row?.scheduledstart));
        const oldEnd = new Date(String(row?.scheduledend));
        const start = values.in !== undefined ? startAt(duration(values.in, '--in')) : oldStart;
        const length = values.duration !== undefined ? duration(values.duration, '--duration') : oldEnd.getTime() - oldStart.getTime();
        body.scheduledstart = start.toISOString();
        body.scheduledend = new Date(start.getTime() + length).toISOString();
      }
      await c.dataverse.act({ action: 'update', userId: user.id, set: 'appointments', id: id!, body: changed(body, usage) });
      console.log(`Updated appointment ${id!} as ${user.upn}: ${Object.keys(body).join(', ')}.`);
      return;
    }
    case 'update-task': {
      const usage = 'dynamics update-task <user> <id> [--subject <s>] [--due 1d]';
      const [who, id] = words(positionals, 2, usage);
      const user = await systemUser(c, who!);
      const set = await setOf(c, id!, taskSets, 'task');
      const body: Record<string, unknown> = {};
      if (values.subject !== undefined) body.subject = values.subject;
      if (values.due !== undefined) body.scheduledend = startAt(duration(values.due, '--due')).toISOString();
      await c.dataverse.act({ action: 'update', userId: user.id, set, id: id!, body: changed(body, usage) });
      console.log(`Updated ${set.replace(/e?s$/, '')} ${id!} as ${user.upn}: ${Object.keys(body).join(', ')}.`);
      return;
    }
    case 'delete-appointment':
    case 'delete-task':
    case 'delete-contact': {
      const what = sub.slice('delete-'.length);
      const [who, id] = words(positionals, 2, `dynamics ${sub} <user> <id>`);
      const user = await systemUser(c, who!);
      const set = await setOf(c, id!, what === 'task' ? taskSets : [`${what}s`], what);
      await c.dataverse.act({ action: 'delete', userId: user.id, set, id: id! });
      console.log(`Deleted ${set.replace(/e?s$/, '')} ${id!} as ${user.upn}.`);
      return;
    }
    case 'create-contact': {
      const [who, first, last] = words(positionals, 3, 'dynamics create-contact <user> <first name> <last name> [--email <address>] [--job-title <t>]');
      const owner = await systemUser(c, who!);
      const created = await c.dataverse.act({
        action: 'create',
        userId: owner.id,
        set: 'contacts',
        body: {
          firstname: first,
          lastname: last,
          ...(values.email ? { emailaddress1: values.email } : {}),
          ...(values['job-title'] ? { jobtitle: values['job-title'] } : {}),
          'ownerid@odata.bind': `/systemusers(${owner.id})`,
        },
      });
      console.log(`Created contact ${String(created.contactid)} owned by ${owner.upn}: ${first!} ${last!}`);
      return;
    }
    case 'update-contact': {
      const usage = 'dynamics update-contact <user> <id> [--first <f>] [--last <l>] [--email <address>] [--job-title <t>]';
      const [who, id] = words(positionals, 2, usage);
      const user = await systemUser(c, who!);
      await setOf(c, id!, ['contacts'], 'contact');
      const body: Record<string, unknown> = {};
      if (values.first !== undefined) body.firstname = values.first;
      if (values.last !== undefined) body.lastname = values.last;
      if (values.email !== undefined) body.emailaddress1 = values.email;
      if (values['job-title'] !== undefined) body.jobtitle = values['job-title'];
      await c.dataverse.act({ action: 'update', userId: user.id, set: 'contacts', id: id!, body: changed(body, usage) });
      console.log(`Updated contact ${id!} as ${user.upn}: ${Object.keys(body).join(', ')}.`);
      return;
    }
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
      const [who, subject] = words(positionals, 2, 'dynamics create-task <user> <subject> [--due 1d] [--kind task|phonecall|letter|fax]');
      const kind = values.kind ?? 'task';
      if (!(kind in taskKinds)) throw new UsageError(`--kind takes task, phonecall, letter or fax, not "${kind}"`);
      const owner = await systemUser(c, who!);
      const due = startAt(duration(values.due ?? '1d', '--due'));
      const set = taskKinds[kind as keyof typeof taskKinds];
      const created = await c.dataverse.act({ action: 'create', userId: owner.id, set, body: { subject, scheduledend: due.toISOString(), 'ownerid@odata.bind': `/systemusers(${owner.id})` } });
      const zone = (await graphUser(c, who!)).timeZone;
      console.log(`Created ${kind} ${String(created.activityid)} owned by ${owner.upn}: "${subject}" due ${dateIn(due.toISOString(), zone)}`);
      return;
    }
    case 'complete-task': {
      const [who, id] = words(positionals, 2, 'dynamics complete-task <user> <id>');
      const user = await systemUser(c, who!);
      const set = await setOf(c, id!, taskSets, 'task');
      await c.dataverse.act({ action: 'complete', userId: user.id, set, id: id! });
      console.log(`Marked ${set.replace(/e?s$/, '')} ${id!} completed as ${user.upn}.`);
      return;
    }
    case 'list': {
      const [what] = words(positionals, 1, 'dynamics list appointments|tasks|contacts');
      if (!(what! in sets)) throw new UsageError(`dynamics list takes appointments, tasks or contacts, not "${what!}"`);
      const rows: Array<Record<string, unknown>> =
        what === 'tasks'
          ? (await Promise.all(taskSets.map(async (set) => (await c.dataverse.records(set)).map((r) => ({ ...r, kind: set.replace(/e?s$/, '') }))))).flat()
          : await c.dataverse.records(sets[what as keyof typeof sets]);
      const users = new Map((await c.dataverse.records('systemusers')).map((u) => [text(u.systemuserid), text(u.internalemailaddress) || text(u.fullname)]));
      const owner = (r: Record<string, unknown>) => users.get(text(r._ownerid_value)) ?? text(r._ownerid_value);
      const zones = new Map((await c.graph.users()).map((u) => [u.userPrincipalName.toLowerCase(), u.timeZone]));
      const ownerZone = (r: Record<string, unknown>) => zones.get(owner(r).toLowerCase());
      // Activity statecode options (Dataverse appointment/task tables): 0 Open, 1 Completed, 2 Canceled, 3 Scheduled.
      const state = (r: Record<string, unknown>) => ['Open', 'Completed', 'Canceled', 'Scheduled'][Number(r.statecode)] ?? text(r.statecode);
      if (what === 'contacts') {
        console.log(formatTable(['ID', 'NAME', 'E-MAIL', 'OWNER'], rows.map((r) => [String(r.contactid), text(r.fullname), text(r.emailaddress1), owner(r)])));
      } else {
        console.log(
          formatTable(
            what === 'tasks' ? ['ID', 'KIND', 'SUBJECT', 'DUE', 'STATE', 'OWNER'] : ['ID', 'SUBJECT', 'START (UTC)', 'STATE', 'OWNER'],
            rows.map((r) =>
              what === 'tasks'
                ? [String(r.activityid), text(r.kind), text(r.subject), dateIn(r.scheduledend, ownerZone(r)), state(r), owner(r)]
                : [String(r.activityid), text(r.subject), short(r.scheduledstart), state(r), owner(r)],
            ),
          ),
        );
      }
      return;
    }
    default:
      throw new UsageError(
        `unknown dynamics command "${sub ?? ''}": one of create-appointment, update-appointment, delete-appointment, create-task, update-task, complete-task, delete-task, create-contact, update-contact, delete-contact, list`,
      );
  }
}

/** Prints the sync log from its start and then every line npm start adds, until Ctrl+C. */
async function watchLog(path: string): Promise<void> {
  let offset = 0;
  let pending = '';
  const file = await open(path, 'r');
  const drain = async () => {
    const size = statSync(path).size;
    if (size <= offset) return;
    const buffer = Buffer.alloc(size - offset);
    await file.read(buffer, 0, buffer.length, offset);
    offset = size;
    // Whole lines only: a line caught while it is being appended is printed once its newline arrives.
    const text = pending + buffer.toString('utf8');
    const end = text.lastIndexOf('\n') + 1;
    pending = text.slice(end);
    if (end > 0) process.stdout.write(text.slice(0, end));
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
    case 'key':
      console.log(env.SANDBOX_FUNCTION_KEY ?? '');
      return;
    case 'status-page':
      console.log(`${env.SANDBOX_HOST_URL ?? ''}/api/status/page?code=${encodeURIComponent(env.SANDBOX_FUNCTION_KEY ?? '')}`);
      return;
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
