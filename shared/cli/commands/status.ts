// `status`: what the status endpoint answers (buildStatus), as tables.
import { buildStatus, type StatusReport } from '../../status/index.js';
import type { CommandSpec } from '../command.js';
import { formatTable, truncate } from '../format.js';

/** The status report as the text the CLI prints. */
export function formatStatus(report: StatusReport): string[] {
  const lines: string[] = [`Status at ${report.generatedAt}`, ''];
  lines.push(`Mailboxes (${report.mailboxes.length})`);
  const mailboxes = [...report.mailboxes].sort((a, b) => a.userPrincipalName.localeCompare(b.userPrincipalName));
  if (mailboxes.length === 0) lines.push('  none registered');
  else {
    lines.push(
      formatTable(
        ['UPN', 'STATE', 'REASON', 'ENTITIES', 'SUBSCRIPTIONS (EXPIRY)'],
        mailboxes.map((m) => [
          m.userPrincipalName,
          m.state,
          [m.stateReason, m.pausedUntil ? `resumes by itself from ${m.pausedUntil}` : undefined].filter(Boolean).join('; '),
          m.entities.join(','),
          [...m.subscriptions]
            .sort((a, b) => a.resourceKind.localeCompare(b.resourceKind))
            .map((s) => `${s.resourceKind} until ${s.expirationDateTime}`)
            .join('; ') || 'none',
        ]),
      ),
      '',
      formatTable(
        ['UPN', 'LAST TO EXCHANGE', 'LAST TO DATAVERSE', 'LAST RECONCILE', 'BACKFILL'],
        mailboxes.map((m) => [
          m.userPrincipalName,
          m.lastSync.toExchange ?? 'never',
          m.lastSync.toDataverse ?? 'never',
          m.lastReconcile ? `${m.lastReconcile.at} (${m.lastReconcile.enqueued} enqueued${m.lastReconcile.errors.length ? `, ${m.lastReconcile.errors.length} errors` : ''})` : 'never',
          m.backfill ? `${m.backfill.enqueued} enqueued, ${m.backfill.completedAt ? `done ${m.backfill.completedAt}` : `running since ${m.backfill.startedAt}`}` : 'none',
        ]),
      ),
    );
    for (const m of mailboxes) if (m.catchupPending) lines.push(`  ${m.userPrincipalName}: catch-up pending since ${m.catchupPending.at} (${m.catchupPending.reason})`);
    const withEmail = mailboxes.filter((m) => m.email);
    if (withEmail.length) {
      lines.push(
        '',
        formatTable(
          ['UPN', 'EMAIL TRACKED', 'EMAIL SENT', 'SENDS FAILED', 'LAST FAILED SEND'],
          withEmail.map((m) => [
            m.userPrincipalName,
            String(m.email!.tracked),
            String(m.email!.sent),
            String(m.email!.failed),
            m.email!.lastFailure ? `${m.email!.lastFailure.at} email ${m.email!.lastFailure.activityId}: ${truncate(m.email!.lastFailure.reason, 80)}` : 'none',
          ]),
        ),
      );
    }
  }
  const c = report.configuration;
  lines.push(
    '',
    `Sync configuration: version ${c.version}${c.version ? ` (${c.at} by ${c.updatedBy})` : ' (defaults)'}${c.mailboxesWithOwnKeys.length ? `; ${c.mailboxesWithOwnKeys.length} mailbox(es) with keys of their own` : ''}`,
  );
  for (const v of c.recent.slice(0, 3)) lines.push(`  v${v.version} ${v.at} ${v.updatedBy}: ${truncate(v.keys.join(', '), 120)}`);
  const dv = report.dataverseReconcile;
  lines.push('', `Dataverse reconcile: ${dv ? `${dv.at} (${dv.enqueued} enqueued${dv.errors.length ? `, ${dv.errors.length} errors` : ''})` : 'never'}`);
  const b = report.backlog;
  lines.push(`Queue: ${b.queued ?? '?'} waiting, ${b.deadLettered ?? '?'} dead-lettered${b.capped ? ' (at least)' : ''} [${b.method}]`);
  lines.push('', `Dead letters recorded: ${report.deadLetters.count}${report.deadLetters.count > report.deadLetters.recent.length ? ` (latest ${report.deadLetters.recent.length} shown)` : ''}`);
  if (report.deadLetters.recent.length) {
    lines.push(
      formatTable(
        ['AT', 'MESSAGE ID', 'REASON', 'DESCRIPTION'],
        report.deadLetters.recent.map((d) => [d.at, d.messageId, d.reason, truncate(d.description, 100)]),
      ),
    );
  }
  if (report.lastErrors.length) {
    lines.push('', 'Last errors');
    lines.push(formatTable(['AT', 'SOURCE', 'MESSAGE'], report.lastErrors.map((e) => [e.at, e.source, truncate(e.message, 120)])));
  }
  // report.calls counts the calls of the process that built the report: in the CLI that is the CLI itself, which
  // says nothing about the sync, so only the endpoint's JSON carries it.
  return lines;
}

export const statusCommand: CommandSpec = {
  name: 'status',
  summary: 'Mailboxes, subscriptions, last syncs, backlog and dead letters (the status endpoint, as tables)',
  usage: '[--json]',
  help: [
    'Prints what GET /api/status answers, read from the same tables and queue: each mailbox with its state,',
    'subscriptions, last sync per direction, reconciliation and backfill; the queue backlog, the dead-letter',
    'reasons the worker recorded (see also: dlq list) and the last errors.',
    '',
    'Options:',
    '  --json   print the report as JSON, exactly as the endpoint returns it',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const report = await buildStatus(await ctx.runtime());
    if (values.json) ctx.out(JSON.stringify(report, null, 2));
    else for (const line of formatStatus(report)) ctx.out(line);
  },
};
