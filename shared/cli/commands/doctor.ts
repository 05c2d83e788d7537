// `doctor`: the deployment's assumptions checked against the real services (shared/doctor/index.ts), one line each
// with pass, fail or unknown. Exit code 1 when a check fails, so a pipeline can gate on it.
import { runDoctor } from '../../doctor/index.js';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../env.js';
import { formatTable } from '../format.js';

export const doctorCommand: CommandSpec = {
  name: 'doctor',
  summary: "Check the deployment's assumptions against the real services (pass / fail / unknown)",
  usage: '[--wait-seconds N] [--json]',
  help: [
    'Read-mostly checks: the Graph application permissions in the token, each enabled mailbox readable (application',
    'access policy or RBAC scope) with its time zone as registered and live subscriptions, the subscription round',
    "trip (a probe subscription, clientState doctor-probe.*, on the first active mailbox's events: Graph validates the",
    'notification URL, then a notification for a probe event must reach the webhook; both are deleted again), the',
    "Dataverse application user, and the webhook tag round trip: a write with the sync's tag of doctor's own probe",
    'task (id d0c70000-...), whether its webhook body carries the tag (else the version check carries echo',
    'suppression), then the probe is deleted. Nothing else is written. Exit code 1 when a check fails.',
    '',
    'Options:',
    "  --wait-seconds N   how long to wait for each probe's notification or webhook (default 30)",
    '  --json             print the checks as JSON',
  ].join('\n'),
  options: { 'wait-seconds': { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const wait = values['wait-seconds'] === undefined ? 30 : Number(values['wait-seconds']);
    if (!Number.isFinite(wait) || wait < 0 || wait > 600) throw new UsageError('--wait-seconds needs a number from 0 to 600');
    const rt = await ctx.runtime();
    const checks = await runDoctor(rt, { waitMs: wait * 1000 });
    if (values.json) ctx.out(JSON.stringify(checks, null, 2));
    else ctx.out(formatTable(['CHECK', 'RESULT', 'DETAIL'], checks.map((c) => [c.code, c.status, c.detail])));
    const failed = checks.filter((c) => c.status === 'fail').length;
    if (!values.json) ctx.out(`${checks.length} checks: ${checks.filter((c) => c.status === 'pass').length} pass, ${failed} fail, ${checks.filter((c) => c.status === 'unknown').length} unknown`);
    if (failed > 0) throw new Error(`${failed} check(s) failed`);
  },
};
