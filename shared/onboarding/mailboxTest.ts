// Test & Enable, as Dynamics 365 runs it for server-side synchronization
// (https://learn.microsoft.com/power-platform/admin/connect-exchange-online): before a mailbox is enabled, checks
// that the app can reach it on both sides, each with a status (Success, Failure, Warning, Not Run) stored per
// mailbox and printed like the mailbox's test results. One check refuses: the "no double engine" rule. When the
// user's Dataverse mailbox row has appointments, contacts and tasks delivered by server-side synchronization (or
// by the Dynamics 365 for Outlook client), that engine syncs the same items, and every item would exist twice.
// `--force` overrides it; the override is stored with who gave it and logged.
import { SyncError, isSyncError } from '../errors.js';
import { trackedCategory, windowsZoneOfDataverseCode } from '../mapping/index.js';
import { ianaZoneOf } from '../timeZones.js';
import type { Runtime } from '../runtime.js';
import type { EnableInputs } from './mailbox.js';

export type CheckStatus = 'Success' | 'Failure' | 'Warning' | 'Not Run';

export interface CheckResult {
  /** Stable code, as alerts use (admin.md §6.4): graph.mailbox, engine.doubleEngine, ... */
  code: string;
  title: string;
  status: CheckStatus;
  /** Ids, names of settings and choices only; never item contents. */
  detail: string;
}

export interface MailboxTest {
  at: string;
  userId: string;
  results: CheckResult[];
  /** Set when `--force` enabled the mailbox despite a refusing check. */
  forced?: { by: string; at: string; codes: string[] };
}

/** Cursor scope of the stored test results, by Entra object id (kept for a mailbox that was refused, too). */
export const mailboxTestScope = 'mailboxTest';

/** mailbox.actdeliverymethod (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/mailbox). */
const actMethods: Record<number, string> = { 0: 'Microsoft Dynamics 365 for Outlook', 1: 'Server-Side Synchronization', 2: 'None' };

/**
 * Pure: the double-engine verdict of the user's mailbox row. Appointments, contacts and tasks must be delivered by
 * None (2); server-side synchronization (1) and the Dynamics 365 for Outlook client (0) both sync the same items.
 */
export function judgeEngine(row: Record<string, unknown> | undefined): CheckResult {
  const base = { code: 'engine.doubleEngine', title: 'No other engine syncs appointments, contacts and tasks' };
  if (!row) return { ...base, status: 'Warning', detail: 'the user has no mailbox row in Dataverse; nothing else can sync them' };
  const act = typeof row.actdeliverymethod === 'number' ? row.actdeliverymethod : undefined;
  const shown = (v: unknown) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : '?');
  const email = `incoming email ${shown(row.incomingemaildeliverymethod)}, outgoing ${shown(row.outgoingemaildeliverymethod)}, orgmarkedasprimaryforexchangesync ${shown(row.orgmarkedasprimaryforexchangesync)}`;
  if (act === 2) return { ...base, status: 'Success', detail: `actdeliverymethod 2 (None); ${email}` };
  if (act === 0 || act === 1) {
    return { ...base, status: 'Failure', detail: `the mailbox row has appointments, contacts and tasks delivered by ${actMethods[act]} (actdeliverymethod ${act}): set it to None, or enable with --force; ${email}` };
  }
  return { ...base, status: 'Warning', detail: `actdeliverymethod is ${shown(row.actdeliverymethod)} (not a known choice); ${email}` };
}

/** The checks of Test & Enable, run against the services; nothing is written but the category when it is missing. */
export async function testMailbox(rt: Runtime, inputs: EnableInputs, options: { dryRun?: boolean } = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [
    // readEnableInputs read both already: reaching this point means they succeeded.
    { code: 'graph.mailbox', title: 'Exchange: the app can read the mailbox', status: 'Success', detail: `Entra object id ${inputs.userId}` },
    { code: 'graph.timeZone', title: 'Exchange: the mailbox time zone', status: 'Success', detail: inputs.timeZone },
  ];
  results.push(await categoryCheck(rt, inputs.userId, options.dryRun === true));
  const user = await rt.dataverse.get('systemuser', inputs.systemUserId, { select: ['systemuserid', 'isdisabled'] });
  const disabled = user?.isdisabled === true;
  results.push({ code: 'dataverse.user', title: 'Dynamics 365: the user exists and is enabled', status: disabled ? 'Failure' : 'Success', detail: `systemuserid ${inputs.systemUserId}${disabled ? ' is disabled' : ''}` });
  results.push(await impersonationCheck(rt, inputs));
  results.push(await timeZoneCheck(rt, inputs));
  const rows = await rt.dataverse
    .query('mailbox', { filter: `_regardingobjectid_value eq ${inputs.systemUserId}`, select: ['mailboxid', 'actdeliverymethod', 'incomingemaildeliverymethod', 'outgoingemaildeliverymethod', 'orgmarkedasprimaryforexchangesync'], top: 1 })
    .catch((error: unknown) => {
      if (isSyncError(error, 'Forbidden')) return undefined;
      throw error;
    });
  results.push(rows === undefined ? { code: 'engine.doubleEngine', title: 'No other engine syncs appointments, contacts and tasks', status: 'Warning', detail: 'the app user cannot read the mailbox table (prvReadMailbox)' } : judgeEngine(rows[0]));
  return results;
}

const timeZoneTitle = "Dynamics 365: the user's time zone agrees with the mailbox's";

/**
 * Pure: the user's own Dynamics 365 time zone (usersettings.timezonecode) against the mailbox's. A difference is a
 * Warning, not a Failure: the sync writes instants (UTC), so no meeting moves; only the clock times each side shows
 * differ (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/usersettings).
 */
export function judgeTimeZone(code: number | undefined, mailboxZone: string): CheckResult {
  const base = { code: 'dataverse.timeZone', title: timeZoneTitle };
  if (code === undefined) return { ...base, status: 'Warning', detail: 'the user has no usersettings row with a timezonecode' };
  const windows = windowsZoneOfDataverseCode(code);
  if (!windows) return { ...base, status: 'Warning', detail: `timezonecode ${code} is not a zone this version knows; compare it with the mailbox's ${mailboxZone} by hand` };
  const mailbox = ianaZoneOf(mailboxZone);
  if (mailbox !== undefined && ianaZoneOf(windows, mailbox) === mailbox) return { ...base, status: 'Success', detail: `timezonecode ${code} (${windows})` };
  return {
    ...base,
    status: 'Warning',
    detail: `timezonecode ${code} (${windows}) differs from the mailbox's ${mailboxZone}: times are synced as instants, so nothing moves, but Dynamics 365 and Outlook show them at different clock times`,
  };
}

async function timeZoneCheck(rt: Runtime, inputs: EnableInputs): Promise<CheckResult> {
  try {
    const settings = await rt.dataverse.get('usersettings', inputs.systemUserId, { select: ['systemuserid', 'timezonecode'] });
    return judgeTimeZone(typeof settings?.timezonecode === 'number' ? settings.timezonecode : undefined, inputs.timeZone);
  } catch (error) {
    if (isSyncError(error, 'Forbidden')) return { code: 'dataverse.timeZone', title: timeZoneTitle, status: 'Warning', detail: 'the app user cannot read usersettings (prvReadUserSettings)' };
    throw error;
  }
}

async function categoryCheck(rt: Runtime, userId: string, dryRun: boolean): Promise<CheckResult> {
  const base = { code: 'graph.category', title: `Exchange: the "${trackedCategory}" category` };
  try {
    const list = await rt.graph.listMasterCategories(userId);
    if (list.some((c) => c.displayName?.toLowerCase() === trackedCategory.toLowerCase())) return { ...base, status: 'Success', detail: 'exists' };
    if (dryRun) return { ...base, status: 'Warning', detail: 'missing; a real run adds it if the app may (MailboxSettings.ReadWrite)' };
    await rt.graph.createMasterCategory(userId, trackedCategory);
    return { ...base, status: 'Success', detail: 'created' };
  } catch (error) {
    // Items carry the category by name whether or not the list has it; without the list entry Outlook shows it uncoloured.
    if (isSyncError(error, 'Forbidden') || isSyncError(error, 'Unauthorized')) return { ...base, status: 'Warning', detail: 'missing, and the app may not add it (MailboxSettings.ReadWrite); items still carry it' };
    throw error;
  }
}

async function impersonationCheck(rt: Runtime, inputs: EnableInputs): Promise<CheckResult> {
  const base = { code: 'dataverse.impersonation', title: 'Dynamics 365: the app user can act as the user' };
  try {
    // A read as the user (CallerObjectId): refused when the app user lacks prvActOnBehalfOfAnotherUser.
    await rt.dataverse.query('systemuser', { filter: `systemuserid eq ${inputs.systemUserId}`, select: ['systemuserid'], top: 1, callerObjectId: inputs.userId });
    return { ...base, status: 'Success', detail: `CallerObjectId ${inputs.userId}` };
  } catch (error) {
    if (isSyncError(error, 'Forbidden') || isSyncError(error, 'Unauthorized')) return { ...base, status: 'Failure', detail: 'a read as the user was refused (prvActOnBehalfOfAnotherUser)' };
    throw error;
  }
}

/** The checks that refuse enabling (a Failure), unless forced. */
export const refusing = (results: readonly CheckResult[]) => results.filter((r) => r.status === 'Failure');

/** Stores a test's results (and an override) for `mailbox show` and status. */
export async function storeMailboxTest(rt: Runtime, test: MailboxTest): Promise<void> {
  await rt.cursors.set(mailboxTestScope, test.userId.toLowerCase(), test);
}

export async function lastMailboxTest(rt: Runtime, userId: string): Promise<MailboxTest | undefined> {
  return rt.cursors.get<MailboxTest>(mailboxTestScope, userId.toLowerCase());
}

/** The results as the mailbox test results read in Dynamics 365: one status line, then each check. */
export function describeMailboxTest(test: MailboxTest): string[] {
  const failed = refusing(test.results).length > 0;
  const lines = [`Appointments, Contacts, and Tasks Status: ${failed && !test.forced ? 'Failure' : 'Success'}${test.forced ? ` (forced by ${test.forced.by} over ${test.forced.codes.join(', ')})` : ''}`];
  const width = Math.max(...test.results.map((r) => r.title.length));
  for (const r of test.results) lines.push(`  ${r.title.padEnd(width)}  ${r.status.padEnd(8)} ${r.detail}`);
  return lines;
}

/**
 * Runs Test & Enable's checks and decides: a refusing check stops the enable with the reason (the results are kept),
 * unless `force`, which is recorded with the operator's name.
 */
export async function testBeforeEnable(rt: Runtime, inputs: EnableInputs, options: { force?: boolean; operator?: string } = {}): Promise<MailboxTest> {
  const results = await testMailbox(rt, inputs);
  const failures = refusing(results);
  const at = rt.now().toISOString();
  const test: MailboxTest = { at, userId: inputs.userId, results, ...(failures.length > 0 && options.force ? { forced: { by: options.operator ?? 'unknown', at, codes: failures.map((f) => f.code) } } : {}) };
  await storeMailboxTest(rt, test);
  if (failures.length > 0 && !options.force) {
    throw new SyncError('InvalidInput', `mailbox ${inputs.userPrincipalName} not enabled: ${failures.map((f) => `${f.code}: ${f.detail}`).join('; ')}`, { field: 'mailbox' });
  }
  if (test.forced) rt.log.warn('mailbox enabled over a refusing check', { mailboxId: inputs.userId, codes: test.forced.codes.join(','), operator: test.forced.by });
  return test;
}
