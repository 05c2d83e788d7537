// `dataverse register-webhooks`: the service endpoint (Webhook contract, HttpHeader key) and the asynchronous
// Create, Update and Delete steps on every synced table, created or brought up to date, never duplicated.
// Update steps filter on the columns the mapping reads and the configured directions let flow to Exchange (so
// unrelated column changes cost nothing); Delete steps carry
// a pre-image of the owner (the contact delete rule needs it once the record is gone) and, on appointment, of the
// instance's series (a deleted instance is a change of its series).
import type { DataverseApi } from '../dataverse/client.js';
import { odataString } from '../odata.js';
import { SyncError } from '../errors.js';
import { dataverseEntities, type DataverseEntity } from '../servicebus/messages.js';
import type { EntityKind } from '../mapping/index.js';
import { deleteImageColumns, imageColumns, mappedColumns } from '../sync/columns.js';
import { kindOfTable } from '../sync/kinds/index.js';
import { fieldsFlowingToExchange, type ConfigStore } from '../settings/index.js';
import { webhookKeyHeader } from '../webhooks/dataverseWebhook.js';
import { postImageAlias } from '../webhooks/entityImage.js';

export const serviceEndpointName = 'dataverse-exchange-sync';
// No SetState step: the Update step filters on statecode and statuscode, which is how a state change is raised
// (shared/webhooks/dataverseWebhook.ts says why; a second step would deliver each state change twice).
const messages = ['Create', 'Update', 'Delete'] as const;

/** Per kind, the fields that flow to Exchange in the configuration in force (shared/settings fieldsFlowingToExchange). */
export type FlowingFields = Readonly<Record<EntityKind, ReadonlySet<string>>>;

/**
 * The Update step's filtering attributes of a table: every Dataverse column whose change must reach Exchange. With
 * the configuration's directions (`flowing`), a field set to toDataverse or none in every scope is left out, so its
 * changes in Dynamics 365 raise no webhook at all; without them, the field table's own directions.
 */
export function filteringAttributes(entity: DataverseEntity, flowing?: FlowingFields): string[] {
  return mappedColumns(entity, { flowingToExchange: true, flowing: flowing?.[kindOfTable(entity).name] });
}

/** The fields flowing to Exchange in the configuration stored now (read fresh: after a change, the change counts). */
export async function flowingInForce(config: ConfigStore): Promise<FlowingFields> {
  const snapshot = await config.snapshot({ fresh: true });
  return fieldsFlowingToExchange(snapshot.global, Object.values(snapshot.mailboxes));
}

/**
 * Brings the Update steps' filtering attributes in line with the configuration (after `config set` of a direction):
 * only the steps' filteringattributes are written, the endpoint and its key are left alone. Returns one line per step.
 */
export async function updateFilteringAttributes(api: DataverseApi, flowing: FlowingFields, entities: readonly DataverseEntity[] = dataverseEntities): Promise<string[]> {
  const changes: string[] = [];
  for (const entity of entities) {
    const name = `${serviceEndpointName}: Update of ${entity}`;
    const step = (await list(api, `sdkmessageprocessingsteps?$select=sdkmessageprocessingstepid,filteringattributes&$filter=name eq ${odataString(name)}`))[0];
    if (!step) {
      changes.push(`step "${name}" missing: run dataverse register-webhooks`);
      continue;
    }
    const wanted = filteringAttributes(entity, flowing).join(',');
    if ((step.filteringattributes ?? null) === wanted) continue;
    await api.raw('PATCH', `sdkmessageprocessingsteps(${String(step.sdkmessageprocessingstepid)})`, { filteringattributes: wanted });
    changes.push(`step "${name}" updated (filtering attributes: ${wanted})`);
  }
  return changes;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Registers (or updates) the webhook; returns one line per thing it created, changed or kept. */
export async function registerWebhooks(api: DataverseApi, options: { url: string; key: string; entities?: readonly DataverseEntity[]; flowing?: FlowingFields }): Promise<string[]> {
  const changes: string[] = [];
  const endpointBody = {
    name: serviceEndpointName,
    contract: 8,
    authtype: 5,
    messageformat: 2,
    userclaim: 1,
    url: options.url,
    authvalue: `<settings><setting name="${xmlEscape(webhookKeyHeader)}" value="${xmlEscape(options.key)}" /></settings>`,
    description: 'Changes for dataverse-exchange-sync (Exchange Online two-way sync)',
  };
  const existing = await list(api, `serviceendpoints?$select=serviceendpointid,url&$filter=name eq ${odataString(serviceEndpointName)}`);
  let endpointId: string;
  if (existing[0]) {
    endpointId = String(existing[0].serviceendpointid);
    // authvalue is write-only: it is always written, so a rotated key takes effect.
    await api.raw('PATCH', `serviceendpoints(${endpointId})`, endpointBody);
    changes.push(`service endpoint ${serviceEndpointName} (${endpointId}) updated: url and key written`);
  } else {
    const created = await api.raw('POST', 'serviceendpoints', endpointBody, { Prefer: 'return=representation' });
    endpointId = String((created.body as { serviceendpointid: string }).serviceendpointid);
    changes.push(`service endpoint ${serviceEndpointName} (${endpointId}) created`);
  }
  for (const message of messages) {
    const sdkMessage = (await list(api, `sdkmessages?$select=sdkmessageid&$filter=name eq ${odataString(message)}`))[0];
    if (!sdkMessage) throw new SyncError('NotFound', `Dataverse has no sdkmessage ${message}`);
    const messageId = String(sdkMessage.sdkmessageid);
    for (const entity of options.entities ?? dataverseEntities) {
      const filter = (await list(api, `sdkmessagefilters?$select=sdkmessagefilterid&$filter=primaryobjecttypecode eq ${odataString(entity)} and _sdkmessageid_value eq ${messageId}`))[0];
      if (!filter) throw new SyncError('NotFound', `Dataverse has no ${message} message filter for ${entity}`);
      const name = `${serviceEndpointName}: ${message} of ${entity}`;
      const stepBody: Record<string, unknown> = {
        name,
        mode: 1,
        stage: 40,
        rank: 1,
        asyncautodelete: true,
        supporteddeployment: 0,
        filteringattributes: message === 'Update' ? filteringAttributes(entity, options.flowing).join(',') : null,
        'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpointId})`,
        'sdkmessageid@odata.bind': `/sdkmessages(${messageId})`,
        'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${String(filter.sdkmessagefilterid)})`,
      };
      const step = (await list(api, `sdkmessageprocessingsteps?$select=sdkmessageprocessingstepid,filteringattributes&$filter=name eq ${odataString(name)}`))[0];
      let stepId: string;
      if (step) {
        stepId = String(step.sdkmessageprocessingstepid);
        if ((step.filteringattributes ?? null) !== stepBody.filteringattributes) {
          await api.raw('PATCH', `sdkmessageprocessingsteps(${stepId})`, stepBody);
          changes.push(`step "${name}" updated (filtering attributes)`);
        } else {
          changes.push(`step "${name}" kept`);
        }
      } else {
        const created = await api.raw('POST', 'sdkmessageprocessingsteps', stepBody, { Prefer: 'return=representation' });
        stepId = String((created.body as { sdkmessageprocessingstepid: string }).sdkmessageprocessingstepid);
        changes.push(`step "${name}" created`);
      }
      // Delete: a pre-image of the owner and the carrier's columns (shared/sync/columns.ts). Create and Update: a
      // post image with every column the mapping reads, so the worker need not read the record.
      const image =
        message === 'Delete'
          ? { alias: 'PreImage', type: 0, attributes: deleteImageColumns(entity).join(','), messagePropertyName: 'Target' }
          : { alias: postImageAlias, type: 1, attributes: imageColumns(entity).join(','), messagePropertyName: message === 'Create' ? 'Id' : 'Target' };
      const existingImage = (
        await list(api, `sdkmessageprocessingstepimages?$select=sdkmessageprocessingstepimageid,attributes&$filter=_sdkmessageprocessingstepid_value eq ${stepId} and entityalias eq ${odataString(image.alias)}`)
      )[0];
      const imageBody = {
        name: image.alias,
        entityalias: image.alias,
        imagetype: image.type,
        attributes: image.attributes,
        messagepropertyname: image.messagePropertyName,
        'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${stepId})`,
      };
      if (!existingImage) {
        await api.raw('POST', 'sdkmessageprocessingstepimages', imageBody);
        changes.push(`${image.alias === 'PreImage' ? 'pre-image' : 'post image'} (${image.attributes}) added to "${name}"`);
      } else if (existingImage.attributes !== image.attributes) {
        await api.raw('PATCH', `sdkmessageprocessingstepimages(${String(existingImage.sdkmessageprocessingstepimageid)})`, imageBody);
        changes.push(`${image.alias} of "${name}" updated (${image.attributes})`);
      }
    }
  }
  return changes;
}

async function list(api: DataverseApi, path: string): Promise<Record<string, unknown>[]> {
  const res = await api.raw('GET', path);
  return (res.body as { value: Record<string, unknown>[] }).value;
}
