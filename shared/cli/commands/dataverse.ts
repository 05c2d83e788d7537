// `dataverse register-webhooks`: the service endpoint and steps (shared/onboarding/webhooks.ts), pointed at the
// dataverseWebhook function with its function key in the URL.
import { flowingInForce, registerWebhooks } from '../../onboarding/webhooks.js';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../env.js';

const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The webhook URL to register: --url as given, else the function route with its key as ?code=. */
export function webhookUrl(options: { url?: string | undefined; functionKey?: string | undefined; baseUrl: string }): string {
  if (options.url !== undefined) {
    if (!URL.canParse(options.url)) throw new UsageError(`--url ${options.url} is not a URL`);
    const url = new URL(options.url);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback.has(url.hostname))) {
      throw new UsageError(`--url must be an https URL (plain http only to a loopback address), got ${url.protocol}//${url.host}`);
    }
    // dataverseWebhook has authLevel function: a URL without its key is refused with 401 on every call.
    if (!url.searchParams.get('code')) throw new UsageError('--url must carry the function key of dataverseWebhook as ?code=<key>');
    return url.toString();
  }
  if (!options.functionKey) {
    throw new UsageError(
      'no function key for dataverseWebhook: pass --function-key <key> or set DATAVERSE_WEBHOOK_FUNCTION_KEY (the postdeploy hook keeps it in Key Vault as dataverse-webhook-function-key), or pass --url',
    );
  }
  return `${options.baseUrl}/dataverse/webhook?code=${encodeURIComponent(options.functionKey)}`;
}

export const registerWebhooksCommand: CommandSpec = {
  name: 'dataverse register-webhooks',
  summary: 'Create or update the Dataverse service endpoint and its Create/Update/Delete steps',
  usage: '[--url <webhook url with ?code=>] [--function-key <key>]',
  help: [
    'Registers the webhook Dataverse calls on every change of the synced tables (appointment, task, phonecall,',
    'letter, fax, contact): one service endpoint (Webhook contract, the DATAVERSE_WEBHOOK_KEY header) and one',
    'asynchronous step per message and table. Update steps filter on the columns that flow to Exchange under the',
    'configured field directions (every scope\'s). Running it again updates the endpoint (URL and key are written,',
    'so a rotated key takes effect) and keeps the steps; nothing is duplicated.',
    '',
    'Options:',
    '  --url <url>           the public webhook URL including ?code=<function key>',
    '                        (default: $WEBHOOK_BASE_URL/dataverse/webhook?code=<function key>)',
    '  --function-key <key>  the function key of dataverseWebhook (default: $DATAVERSE_WEBHOOK_FUNCTION_KEY)',
  ].join('\n'),
  options: { url: { type: 'string' }, 'function-key': { type: 'string' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const rt = await ctx.runtime();
    const url = webhookUrl({
      url: values.url as string | undefined,
      functionKey: (values['function-key'] as string | undefined) ?? ctx.env.DATAVERSE_WEBHOOK_FUNCTION_KEY,
      baseUrl: rt.settings.WEBHOOK_BASE_URL,
    });
    const shown = new URL(url);
    shown.searchParams.set('code', '***');
    ctx.out(`Dataverse ${rt.settings.DATAVERSE_URL}: webhook ${shown.toString().replace('%2A%2A%2A', '***')}`);
    const changes = await registerWebhooks(rt.dataverse, { url, key: rt.settings.DATAVERSE_WEBHOOK_KEY, flowing: await flowingInForce(rt.config) });
    for (const change of changes) ctx.out(`  ${change}`);
    const count = (word: string) => changes.filter((c) => c.includes(` ${word}`)).length;
    ctx.out(`${count('created')} created, ${count('updated')} updated, ${count('kept')} kept`);
  },
};
