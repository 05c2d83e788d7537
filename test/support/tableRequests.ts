// Counts the requests a real Table Storage client sends (Azurite), by a pipeline policy on the SDK client: nothing
// of ours is mocked, the requests are the ones the product makes.
import type { TableClient } from '@azure/data-tables';

export interface TableRequests {
  /** Method and decoded URL of every request since the count started. */
  requests: { method: string; url: string }[];
  stop: () => void;
}

export function countTableRequests(client: TableClient): TableRequests {
  const requests: TableRequests['requests'] = [];
  const name = `count-${Math.random()}`;
  client.pipeline.addPolicy({
    name,
    sendRequest: async (request, next) => {
      requests.push({ method: request.method, url: decodeURIComponent(request.url) });
      return next(request);
    },
  });
  return { requests, stop: () => client.pipeline.removePolicy({ name }) };
}

/**
 * A query of the mailbox partition that filters on neither a key nor a state nor a schedule column: every row of the
 * registry in one listing (what MailboxStore.list does).
 */
export const readsWholeRegistry = (url: string) => url.includes("PartitionKey eq 'mailbox'") && !/RowKey|state eq|DueAt/.test(url);
