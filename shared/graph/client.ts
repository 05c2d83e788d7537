// Microsoft Graph access through @microsoft/microsoft-graph-client, with tokens from msal-node. Every call asks for
// immutable ids (docs/reference/platform-facts.md section 3) and, for events, UTC times so snapshots compare across mailboxes. Failures are
// translated onto the closed error set; short throttling waits are retried here, long ones go back to the worker.
import { AuthenticationHandler, Client, GraphError, type GraphRequest, HTTPMessageHandler, RetryHandler, RetryHandlerOptions, TelemetryHandler } from '@microsoft/microsoft-graph-client';
import type { Attachment, Contact, Event, MailFolder, Message, Subscription, TodoTask, TodoTaskList, User } from '@microsoft/microsoft-graph-types';
import { SyncError } from '../errors.js';
import { odataString } from '../odata.js';
import { errorForStatus, withRetry, type RetryPolicy } from '../http/retry.js';
import type { TokenProvider } from '../auth/tokens.js';
import { DependencyHandler } from './dependencyHandler.js';
import { BudgetHandler } from './budgetHandler.js';
import type { MailboxBudget } from '../budget/mailboxBudget.js';

/** The extended property the sync stamps on Exchange items it creates: the Dataverse id, so a lost pair can be rebuilt. */
export const dataverseIdProperty = 'String {b7f3c2a9-5d1e-4e0b-9a64-2f8d1c3e7a51} Name DataverseId';

/** The linked resource the sync puts on To Do tasks it creates (To Do items take no extended properties). */
export const dataverseLinkedApplication = 'Dynamics 365';

/** The Dataverse id a To Do task carries in its linked resource, if the sync created or linked it. */
export function dataverseIdOfTodoTask(task: TodoTask): string | undefined {
  return task.linkedResources?.find((r) => r.applicationName === dataverseLinkedApplication && r.externalId)?.externalId ?? undefined;
}

export interface GraphCallCounter {
  (kind: 'read' | 'write', route: string): void;
}

export interface GraphApiOptions {
  baseUrl: string;
  tokens: TokenProvider;
  retry?: RetryPolicy;
  /** Counts calls (benchmarks, status). */
  onCall?: GraphCallCounter;
  /** Keeps every mailbox within Graph's per-mailbox limits (shared/budget/); every request goes through it. */
  budget?: MailboxBudget | undefined;
}

export interface DeltaPage<T> {
  items: (T & { '@removed'?: { reason: string } })[];
  /** The deltaLink to store when the round is finished. */
  deltaLink?: string;
}

type WithEtag<T> = T & { '@odata.etag'?: string };

const preferImmutable = 'IdType="ImmutableId"';
const preferUtc = 'outlook.timezone="UTC"';

/** What the sync does with Graph. Paths take the mailbox's Entra object id (or UPN). */
/**
 * The token audience for a Graph base URL: Graph's own resource (the national clouds have their own hosts); a local
 * stand-in accepts the public audience.
 */
export function graphResourceOf(baseUrl: string): string {
  const base = new URL(baseUrl);
  return /^(graph\.microsoft\.(us|de)|microsoftgraph\.chinacloudapi\.cn|dod-graph\.microsoft\.us)$/.test(base.hostname) ? base.origin : 'https://graph.microsoft.com';
}

export class GraphApi {
  private readonly client: Client;
  private readonly retry: RetryPolicy | undefined;
  private readonly onCall: GraphCallCounter | undefined;

  constructor(options: GraphApiOptions) {
    const base = new URL(options.baseUrl);
    const resource = graphResourceOf(options.baseUrl);
    const authProvider = { getAccessToken: () => options.tokens(resource) };
    // The SDK's own retry handler sleeps in-process for as long as Retry-After says; ours decides instead.
    const noRetry = new RetryHandler(new RetryHandlerOptions(0, 0));
    this.client = Client.initWithMiddleware({
      baseUrl: `${options.baseUrl.replace(/\/+$/, '')}/`,
      middleware: [new AuthenticationHandler(authProvider), noRetry, ...(options.budget ? [new BudgetHandler(options.budget)] : []), new TelemetryHandler(), new DependencyHandler(), new HTTPMessageHandler()],
      // A Graph host that is not Microsoft's (the local simulator) must be listed, or the SDK sends no token.
      ...(base.hostname === 'graph.microsoft.com' ? {} : { customHosts: new Set([base.hostname]) }),
    });
    this.retry = options.retry;
    this.onCall = options.onCall;
  }

  // --- users -------------------------------------------------------------------------------------------------
  async getUser(idOrUpn: string): Promise<User> {
    try {
      return await this.call('read', 'users', () => this.client.api(`/users/${enc(idOrUpn)}`).select('id,userPrincipalName,mail,displayName').get() as Promise<User>);
    } catch (error) {
      // Graph's own text, which named the user, is not kept (translateGraphError): name the one asked for here.
      if (error instanceof SyncError && error.code === 'NotFound') throw new SyncError('NotFound', `no user ${idOrUpn} in the tenant (${error.message})`, { ...(error.status === undefined ? {} : { status: error.status }), cause: error });
      throw error;
    }
  }

  /** The mailbox's time zone as Graph gives it (a Windows or IANA name). */
  async getMailboxTimeZone(idOrUpn: string): Promise<string> {
    const settings = await this.call('read', 'mailboxSettings', () => this.client.api(`/users/${enc(idOrUpn)}/mailboxSettings`).get() as Promise<{ timeZone?: string }>);
    return settings.timeZone ?? 'UTC';
  }

  /** The mailbox's category list (https://learn.microsoft.com/graph/api/outlookuser-list-mastercategories). */
  async listMasterCategories(idOrUpn: string): Promise<{ displayName?: string }[]> {
    const page = await this.call('read', 'masterCategories', () => this.client.api(`/users/${enc(idOrUpn)}/outlook/masterCategories`).get() as Promise<{ value?: { displayName?: string }[] }>);
    return page.value ?? [];
  }

  /** Adds a category to the mailbox's list (needs MailboxSettings.ReadWrite; outlookuser-post-mastercategories). */
  async createMasterCategory(idOrUpn: string, displayName: string): Promise<void> {
    await this.call('write', 'masterCategories', () => this.client.api(`/users/${enc(idOrUpn)}/outlook/masterCategories`).post({ displayName, color: 'preset9' }) as Promise<unknown>);
  }

  // --- events ------------------------------------------------------------------------------------------------
  async getEvent(mailbox: string, id: string): Promise<WithEtag<Event>> {
    return this.call('read', 'events', () =>
      this.client
        .api(`/users/${enc(mailbox)}/events/${enc(id)}`)
        .header('Prefer', `${preferImmutable}, ${preferUtc}`)
        .expand(`singleValueExtendedProperties($filter=id eq '${dataverseIdProperty}')`)
        .get() as Promise<WithEtag<Event>>,
    );
  }

  async createEvent(mailbox: string, body: Event, transactionId: string): Promise<WithEtag<Event>> {
    return this.call('write', 'events', () =>
      this.client
        .api(`/users/${enc(mailbox)}/events`)
        .header('Prefer', `${preferImmutable}, ${preferUtc}`)
        .post({ ...body, transactionId }) as Promise<WithEtag<Event>>,
    );
  }

  async updateEvent(mailbox: string, id: string, patch: Event, ifMatch?: string): Promise<WithEtag<Event>> {
    return this.call('write', 'events', () => {
      let req = this.client.api(`/users/${enc(mailbox)}/events/${enc(id)}`).header('Prefer', `${preferImmutable}, ${preferUtc}`);
      if (ifMatch) req = req.header('If-Match', ifMatch);
      return req.patch(patch) as Promise<WithEtag<Event>>;
    });
  }

  /** Cancels a meeting the mailbox organizes: Exchange sends the cancellations and removes the event (event-cancel). */
  async cancelEvent(mailbox: string, id: string, comment: string): Promise<void> {
    try {
      await this.call('write', 'events', () => this.client.api(`/users/${enc(mailbox)}/events/${enc(id)}/cancel`).post({ comment }) as Promise<unknown>);
    } catch (error) {
      if (!(error instanceof SyncError && error.code === 'NotFound')) throw error;
    }
  }

  async deleteEvent(mailbox: string, id: string): Promise<void> {
    await this.deleteIgnoringMissing('events', `/users/${enc(mailbox)}/events/${enc(id)}`);
  }

  /** Events of a mailbox with this iCalUId (a meeting's copies share it). */
  async findEventsByICalUId(mailbox: string, iCalUId: string): Promise<WithEtag<Event>[]> {
    const page = await this.call('read', 'events', () =>
      this.client
        .api(`/users/${enc(mailbox)}/events`)
        .header('Prefer', `${preferImmutable}, ${preferUtc}`)
        .filter(`iCalUId eq ${odataString(iCalUId)}`)
        .expand(`singleValueExtendedProperties($filter=id eq '${dataverseIdProperty}')`)
        .get() as Promise<{ value: WithEtag<Event>[] }>,
    );
    return page.value;
  }

  /**
   * A series master with what the series sync compares: its cancelled occurrences (`OID.{masterId}.{yyyy-MM-dd}`,
   * "only returned in a Get... of a series master" with $select) and its exceptions ($expand=exceptionOccurrences)
   * (https://learn.microsoft.com/graph/api/resources/event?view=graph-rest-1.0: exceptionOccurrences "Requires $select and
   * $expand").
   */
  async getSeriesMaster(mailbox: string, id: string): Promise<WithEtag<Event> & { cancelledOccurrences?: string[]; exceptionOccurrences?: Event[] }> {
    return this.call('read', 'events', () =>
      this.client
        .api(`/users/${enc(mailbox)}/events/${enc(id)}`)
        .header('Prefer', `${preferImmutable}, ${preferUtc}`)
        .select('id,start,end,isAllDay,recurrence,originalStartTimeZone,originalStart,subject,location,isCancelled,type,cancelledOccurrences,exceptionOccurrences')
        .expand('exceptionOccurrences')
        .get() as Promise<WithEtag<Event> & { cancelledOccurrences?: string[]; exceptionOccurrences?: Event[] }>,
    );
  }

  /**
   * The occurrences and exceptions of a series starting in [start, end) (event-list-instances), every page: a list
   * is paged (10 a page unless the service takes odata.maxpagesize) and a series has more occurrences than that.
   */
  async seriesInstances(mailbox: string, masterId: string, window: { start: Date; end: Date }): Promise<WithEtag<Event>[]> {
    return this.listAll<WithEtag<Event>>('events', `${preferImmutable}, ${preferUtc}, odata.maxpagesize=100`, () =>
      this.client
        .api(`/users/${enc(mailbox)}/events/${enc(masterId)}/instances?startDateTime=${window.start.toISOString()}&endDateTime=${window.end.toISOString()}`)
        .select('id,start,end,type,originalStart,seriesMasterId,subject,location'),
    );
  }

  /** One round page of calendarView delta: the first call takes the window, later calls the stored link. */
  async calendarViewDelta(mailbox: string, from: { window: { start: Date; end: Date } } | { link: string }): Promise<DeltaPage<WithEtag<Event>>> {
    return this.deltaRound('events', 'window' in from
      ? `/users/${enc(mailbox)}/calendarView/delta?startDateTime=${from.window.start.toISOString()}&endDateTime=${from.window.end.toISOString()}`
      : from.link, `${preferImmutable}, ${preferUtc}, odata.maxpagesize=100`);
  }

  // --- To Do -------------------------------------------------------------------------------------------------
  async listTodoLists(mailbox: string): Promise<TodoTaskList[]> {
    const page = await this.call('read', 'todoLists', () => this.client.api(`/users/${enc(mailbox)}/todo/lists`).get() as Promise<{ value: TodoTaskList[] }>);
    return page.value;
  }

  async getTodoTask(mailbox: string, listId: string, id: string): Promise<WithEtag<TodoTask>> {
    // With its linked resources: they carry the sync's stamp (the Dataverse id), a navigation property Graph returns
    // only when expanded (https://learn.microsoft.com/graph/api/todotask-get). Read without them, an unpaired copy (the
    // old owner's, after a reassignment) lost its stamp and was created in Dataverse again as a new record.
    return this.call('read', 'todoTasks', () => this.client.api(`/users/${enc(mailbox)}/todo/lists/${enc(listId)}/tasks/${enc(id)}`).expand('linkedResources').get() as Promise<WithEtag<TodoTask>>);
  }

  /**
   * Creates a To Do task linked to its Dataverse record (a linked resource naming `dataverseId`). A create whose
   * answer was lost is not repeated blindly: the list is searched for the linked task first (`findTodoTask`).
   */
  async createTodoTask(mailbox: string, listId: string, body: TodoTask, dataverseId: string, displayName: string): Promise<WithEtag<TodoTask>> {
    const linked: TodoTask = { ...body, linkedResources: [{ applicationName: dataverseLinkedApplication, externalId: dataverseId, displayName }] };
    return this.createOnce(
      'todoTasks',
      () => this.client.api(`/users/${enc(mailbox)}/todo/lists/${enc(listId)}/tasks`).post(linked) as Promise<WithEtag<TodoTask>>,
      () => this.findTodoTask(mailbox, listId, dataverseId),
    );
  }

  /**
   * The task of a list linked to this Dataverse id. Graph documents no $filter on linkedResources, so the list is
   * read with its linked resources (learn.microsoft.com/graph/api/todotasklist-list-tasks); this runs only to
   * recover from a lost answer or an unfinished create, never on the normal path.
   */
  async findTodoTask(mailbox: string, listId: string, dataverseId: string): Promise<WithEtag<TodoTask> | undefined> {
    const wanted = dataverseId.toLowerCase();
    return (await this.listTodoTasks(mailbox, listId)).find((t) => dataverseIdOfTodoTask(t)?.toLowerCase() === wanted);
  }

  async updateTodoTask(mailbox: string, listId: string, id: string, patch: TodoTask, ifMatch?: string): Promise<WithEtag<TodoTask>> {
    return this.call('write', 'todoTasks', () => {
      let req = this.client.api(`/users/${enc(mailbox)}/todo/lists/${enc(listId)}/tasks/${enc(id)}`);
      if (ifMatch) req = req.header('If-Match', ifMatch);
      return req.patch(patch) as Promise<WithEtag<TodoTask>>;
    });
  }

  async deleteTodoTask(mailbox: string, listId: string, id: string): Promise<void> {
    await this.deleteIgnoringMissing('todoTasks', `/users/${enc(mailbox)}/todo/lists/${enc(listId)}/tasks/${enc(id)}`);
  }

  async todoTasksDelta(mailbox: string, from: { listId: string } | { link: string }): Promise<DeltaPage<WithEtag<TodoTask>>> {
    return this.deltaRound('todoTasks', 'listId' in from ? `/users/${enc(mailbox)}/todo/lists/${enc(from.listId)}/tasks/delta` : from.link, 'odata.maxpagesize=100');
  }

  // --- contacts ----------------------------------------------------------------------------------------------
  async getContact(mailbox: string, id: string): Promise<WithEtag<Contact>> {
    return this.call('read', 'contacts', () =>
      this.client
        .api(`/users/${enc(mailbox)}/contacts/${enc(id)}`)
        .header('Prefer', preferImmutable)
        .expand(`singleValueExtendedProperties($filter=id eq '${dataverseIdProperty}')`)
        .get() as Promise<WithEtag<Contact>>,
    );
  }

  /**
   * Creates a contact stamped with its Dataverse id. A create whose answer was lost is not repeated blindly: the
   * stamped contact is looked for first.
   */
  async createContact(mailbox: string, body: Contact, dataverseId: string): Promise<WithEtag<Contact>> {
    const stamped: Contact = { ...body, singleValueExtendedProperties: [{ id: dataverseIdProperty, value: dataverseId }] };
    return this.createOnce(
      'contacts',
      () => this.client.api(`/users/${enc(mailbox)}/contacts`).header('Prefer', preferImmutable).post(stamped) as Promise<WithEtag<Contact>>,
      async () => (await this.findByDataverseId(mailbox, 'contacts', dataverseId))[0],
    );
  }

  async updateContact(mailbox: string, id: string, patch: Contact, ifMatch?: string): Promise<WithEtag<Contact>> {
    return this.call('write', 'contacts', () => {
      let req = this.client.api(`/users/${enc(mailbox)}/contacts/${enc(id)}`).header('Prefer', preferImmutable);
      if (ifMatch) req = req.header('If-Match', ifMatch);
      return req.patch(patch) as Promise<WithEtag<Contact>>;
    });
  }

  async deleteContact(mailbox: string, id: string): Promise<void> {
    await this.deleteIgnoringMissing('contacts', `/users/${enc(mailbox)}/contacts/${enc(id)}`);
  }

  /** Items of any kind stamped with this Dataverse id (a lost pair is rebuilt from the stamp). */
  async findByDataverseId(mailbox: string, collection: 'events' | 'contacts', dataverseId: string): Promise<WithEtag<Event | Contact>[]> {
    const page = await this.call('read', collection, () =>
      this.client
        .api(`/users/${enc(mailbox)}/${collection}`)
        .header('Prefer', collection === 'events' ? `${preferImmutable}, ${preferUtc}` : preferImmutable)
        .filter(`singleValueExtendedProperties/any(ep: ep/id eq '${dataverseIdProperty}' and ep/value eq ${odataString(dataverseId)})`)
        .get() as Promise<{ value: WithEtag<Event | Contact>[] }>,
    );
    return page.value;
  }

  /** Contacts of a mailbox with this e-mail address (backfill and first sync match before creating). */
  async findContactsByEmail(mailbox: string, address: string): Promise<WithEtag<Contact>[]> {
    const page = await this.call('read', 'contacts', () =>
      this.client
        .api(`/users/${enc(mailbox)}/contacts`)
        .header('Prefer', preferImmutable)
        .filter(`emailAddresses/any(a:a/address eq ${odataString(address)})`)
        .expand(`singleValueExtendedProperties($filter=id eq '${dataverseIdProperty}')`)
        .get() as Promise<{ value: WithEtag<Contact>[] }>,
    );
    return page.value;
  }

  // --- mail (tracked email and sends from Dynamics 365; shared/sync/kinds/email.ts) ------------------------------
  /** A message with the fields the tracking reads and, when asked, one extended property. */
  async getMessage(mailbox: string, id: string, select: readonly string[], stampProperty?: string): Promise<WithEtag<Message>> {
    return this.call('read', 'messages', () => {
      let req = this.client.api(`/users/${enc(mailbox)}/messages/${enc(id)}`).header('Prefer', preferImmutable).select(select.join(','));
      if (stampProperty) req = req.expand(`singleValueExtendedProperties($filter=id eq '${stampProperty}')`);
      return req.get() as Promise<WithEtag<Message>>;
    });
  }

  /** A well-known mail folder (inbox, sentitems, drafts) with its id. */
  async getMailFolder(mailbox: string, name: string): Promise<MailFolder> {
    return this.call('read', 'mailFolders', () => this.client.api(`/users/${enc(mailbox)}/mailFolders/${enc(name)}`).select('id,displayName').get() as Promise<MailFolder>);
  }

  /**
   * Messages of a mailbox (or of one folder) matching an OData filter: by internetMessageId or by the sync's
   * stamp (https://learn.microsoft.com/graph/api/resources/extended-properties-overview).
   */
  async findMessages(mailbox: string, filter: string, options: { folder?: string; select?: readonly string[]; stampProperty?: string } = {}): Promise<WithEtag<Message>[]> {
    const path = options.folder ? `/users/${enc(mailbox)}/mailFolders/${enc(options.folder)}/messages` : `/users/${enc(mailbox)}/messages`;
    const page = await this.call('read', 'messages', () => {
      let req = this.client.api(path).header('Prefer', preferImmutable).filter(filter);
      if (options.select) req = req.select(options.select.join(','));
      if (options.stampProperty) req = req.expand(`singleValueExtendedProperties($filter=id eq '${options.stampProperty}')`);
      return req.get() as Promise<{ value: WithEtag<Message>[] }>;
    });
    return page.value;
  }

  /** The file, item and reference attachments of a message, without their bytes. */
  async listAttachments(mailbox: string, messageId: string): Promise<Attachment[]> {
    const page = await this.call('read', 'attachments', () =>
      this.client.api(`/users/${enc(mailbox)}/messages/${enc(messageId)}/attachments`).select('id,name,contentType,size,isInline').get() as Promise<{ value: Attachment[] }>,
    );
    return page.value;
  }

  /** One attachment with its bytes (a fileAttachment's contentBytes, base64). */
  async getAttachment(mailbox: string, messageId: string, attachmentId: string): Promise<Attachment & { contentBytes?: string; contentId?: string }> {
    return this.call('read', 'attachments', () => this.client.api(`/users/${enc(mailbox)}/messages/${enc(messageId)}/attachments/${enc(attachmentId)}`).get() as Promise<Attachment & { contentBytes?: string }>);
  }

  /**
   * Creates a draft in Drafts (POST /messages); returns it with id and internetMessageId. `find` looks for a draft
   * this create made before its answer was lost (by what the body stamped on it), so a repeat does not leave a
   * second draft in the user's Drafts.
   */
  async createDraft(mailbox: string, body: Message, find: () => Promise<Message | undefined>): Promise<WithEtag<Message>> {
    return this.createOnce('messages', () => this.client.api(`/users/${enc(mailbox)}/messages`).header('Prefer', preferImmutable).post(body) as Promise<WithEtag<Message>>, find);
  }

  /**
   * A reply draft in the original's thread (https://learn.microsoft.com/graph/api/message-createreply). `once.message`
   * sets writable properties of the draft as it is made (a stamp), and `find` looks for the draft a create whose
   * answer was lost made by it, so a repeat does not leave a second draft in Drafts.
   */
  async createReplyDraft(mailbox: string, originalId: string, once?: { message: Message; find: () => Promise<Message | undefined> }): Promise<WithEtag<Message>> {
    const post = () => this.client.api(`/users/${enc(mailbox)}/messages/${enc(originalId)}/createReply`).header('Prefer', preferImmutable).post(once ? { message: once.message } : {}) as Promise<WithEtag<Message>>;
    return once ? this.createOnce('messages', post, once.find) : this.call('write', 'messages', post);
  }

  async updateMessage(mailbox: string, id: string, patch: Message): Promise<WithEtag<Message>> {
    return this.call('write', 'messages', () => this.client.api(`/users/${enc(mailbox)}/messages/${enc(id)}`).header('Prefer', preferImmutable).patch(patch) as Promise<WithEtag<Message>>);
  }

  /** Deletes a message (a draft of a failed send); already gone counts as done. */
  async deleteMessage(mailbox: string, id: string): Promise<void> {
    await this.deleteIgnoringMissing('messages', `/users/${enc(mailbox)}/messages/${enc(id)}`);
  }

  /** Adds a file attachment under 3 MB to a draft (https://learn.microsoft.com/graph/outlook-large-attachments). */
  async addFileAttachment(mailbox: string, messageId: string, file: { name: string; contentType: string; contentBytes: string }): Promise<void> {
    await this.call('write', 'attachments', () =>
      this.client.api(`/users/${enc(mailbox)}/messages/${enc(messageId)}/attachments`).post({ '@odata.type': '#microsoft.graph.fileAttachment', ...file }) as Promise<unknown>,
    );
  }

  /**
   * Sends a draft (202, no body: https://learn.microsoft.com/graph/api/message-send). Never repeated here: a lost
   * answer may mean the mail went out, so the caller decides (shared/sync/kinds/email.ts looks for the copy first).
   */
  async sendDraft(mailbox: string, id: string): Promise<void> {
    this.onCall?.('write', 'messages/send');
    try {
      await this.client.api(`/users/${enc(mailbox)}/messages/${enc(id)}/send`).post({});
    } catch (error) {
      throw translateGraphError(error, 'messages/send');
    }
  }

  /** Per-folder message delta (https://learn.microsoft.com/graph/delta-query-messages), from a start or a link. */
  async messagesDelta(mailbox: string, from: { folder: string; select: readonly string[] } | { link: string }): Promise<DeltaPage<WithEtag<Message>>> {
    const path = 'link' in from ? from.link : `/users/${enc(mailbox)}/mailFolders/${enc(from.folder)}/messages/delta?$select=${from.select.join(',')}`;
    return this.deltaRound('messages', path, `${preferImmutable}, odata.maxpagesize=100`);
  }

  // --- subscriptions -----------------------------------------------------------------------------------------
  async createSubscription(body: Subscription): Promise<Subscription> {
    return this.call('write', 'subscriptions', () => this.client.api('/subscriptions').header('Prefer', preferImmutable).post(body) as Promise<Subscription>);
  }

  async renewSubscription(id: string, expirationDateTime: Date): Promise<Subscription> {
    return this.call('write', 'subscriptions', () => this.client.api(`/subscriptions/${enc(id)}`).patch({ expirationDateTime: expirationDateTime.toISOString() }) as Promise<Subscription>);
  }

  async reauthorizeSubscription(id: string): Promise<void> {
    await this.call('write', 'subscriptions', () => this.client.api(`/subscriptions/${enc(id)}/reauthorize`).post({}) as Promise<unknown>);
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.deleteIgnoringMissing('subscriptions', `/subscriptions/${enc(id)}`);
  }

  // --- listings and delta for backfill and reconciliation -----------------------------------------------------
  /** Every event of the primary calendar in the window (occurrences expanded), with the Dataverse stamp. */
  async listCalendarView(mailbox: string, window: { start: Date; end: Date }): Promise<WithEtag<Event>[]> {
    return this.listAll<WithEtag<Event>>('events', `${preferImmutable}, ${preferUtc}, odata.maxpagesize=100`, () =>
      this.client
        .api(`/users/${enc(mailbox)}/calendarView`)
        .query({ startDateTime: window.start.toISOString(), endDateTime: window.end.toISOString() })
        .expand(`singleValueExtendedProperties($filter=id eq '${dataverseIdProperty}')`),
    );
  }

  /** Every contact of the default contacts folder, with the Dataverse stamp. */
  async listContacts(mailbox: string): Promise<WithEtag<Contact>[]> {
    return this.listAll<WithEtag<Contact>>('contacts', `${preferImmutable}, odata.maxpagesize=100`, () =>
      this.client.api(`/users/${enc(mailbox)}/contacts`).expand(`singleValueExtendedProperties($filter=id eq '${dataverseIdProperty}')`),
    );
  }

  /** Every task of a To Do list, with its linked resources (where the sync keeps the Dataverse id). */
  async listTodoTasks(mailbox: string, listId: string): Promise<WithEtag<TodoTask>[]> {
    return this.listAll<WithEtag<TodoTask>>('todoTasks', 'odata.maxpagesize=100', () => this.client.api(`/users/${enc(mailbox)}/todo/lists/${enc(listId)}/tasks`).expand('linkedResources'));
  }

  /**
   * One round of contacts delta in a folder (per folder only: GDC api-reference/v1.0/api/contact-delta.md; docs/reference/platform-facts.md
   * section 2). `folderId` may be the well-known name 'contacts' for the default folder.
   */
  async contactsDelta(mailbox: string, from: { folderId: string } | { link: string }): Promise<DeltaPage<WithEtag<Contact>>> {
    return this.deltaRound('contacts', 'folderId' in from ? `/users/${enc(mailbox)}/contactFolders/${enc(from.folderId)}/contacts/delta` : from.link, `${preferImmutable}, odata.maxpagesize=100`);
  }

  private async listAll<T>(route: string, prefer: string, first: () => GraphRequest): Promise<T[]> {
    const items: T[] = [];
    // Prefer goes on every page: time zone and id format are per request, not carried by the nextLink.
    let page = await this.call('read', route, () => first().header('Prefer', prefer).get() as Promise<{ value: T[]; '@odata.nextLink'?: string }>);
    items.push(...page.value);
    while (page['@odata.nextLink']) {
      const url = page['@odata.nextLink'];
      page = await this.call('read', route, () => this.client.api(url).header('Prefer', prefer).get() as Promise<{ value: T[]; '@odata.nextLink'?: string }>);
      items.push(...page.value);
    }
    return items;
  }

  // --- plumbing ----------------------------------------------------------------------------------------------
  private async deltaRound<T>(route: string, pathOrLink: string, prefer: string): Promise<DeltaPage<T>> {
    const items: (T & { '@removed'?: { reason: string } })[] = [];
    let next: string | undefined = pathOrLink;
    while (next) {
      const url: string = next;
      const page = await this.call('read', `${route}/delta`, () => this.client.api(url).header('Prefer', prefer).get() as Promise<{ value: T[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string }>);
      items.push(...(page.value as (T & { '@removed'?: { reason: string } })[]));
      if (page['@odata.deltaLink']) return { items, deltaLink: page['@odata.deltaLink'] };
      next = page['@odata.nextLink'];
    }
    return { items };
  }

  private async deleteIgnoringMissing(route: string, path: string): Promise<void> {
    try {
      await this.call('write', route, () => this.client.api(path).delete() as Promise<unknown>);
    } catch (error) {
      // Idempotent delete: the only expected failure is "already gone".
      if (!(error instanceof SyncError && error.code === 'NotFound')) throw error;
    }
  }

  /**
   * A create without an idempotency key. A 5xx or a network failure may come after the write took effect (the
   * answer was lost), so before each repeat the item is looked for by what the create stamped on it; a 429 is
   * refused before anything is written, and is simply retried.
   */
  private async createOnce<T>(route: string, post: () => Promise<T>, find: () => Promise<T | undefined>): Promise<T> {
    let mayExist = false;
    return withRetry(async () => {
      if (mayExist) {
        const found = await find();
        if (found) return found;
      }
      this.onCall?.('write', route);
      try {
        return await post();
      } catch (error) {
        const translated = translateGraphError(error, route);
        if (translated.code === 'Transient') mayExist = true;
        throw translated;
      }
    }, this.retry);
  }

  private async call<T>(kind: 'read' | 'write', route: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(async () => {
      this.onCall?.(kind, route);
      try {
        return await fn();
      } catch (error) {
        throw translateGraphError(error, route);
      }
    }, this.retry);
  }
}

/** Graph's text for a mailbox an application access policy leaves out (also inside a subscription's ExtensionError). */
const accessPolicyDenial = /Access to OData is disabled/i;

/** A GraphError (or a network failure) as a SyncError. */
export function translateGraphError(error: unknown, route: string): SyncError {
  if (error instanceof SyncError) return error;
  if (error instanceof GraphError && error.statusCode > 0) {
    // An evicted delta token (410, syncStateNotFound) comes back as TokenExpired, a "start over" signal, not a
    // missing item (https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset).
    if (error.statusCode === 403 && accessPolicyDenial.test(error.message ?? '')) {
      // An application access policy that leaves the mailbox out answers 403 ErrorAccessDenied "Access to OData is
      // disabled" (https://learn.microsoft.com/graph/auth-limit-mailbox-access#handling-api-errors); a missing app
      // role answers ErrorAccessDenied too, with other text, and stays Forbidden. Only the code reaches the error.
      const request = error.requestId && /^[A-Za-z0-9_.:-]{1,100}$/.test(error.requestId) ? ` (request-id ${error.requestId})` : '';
      return new SyncError('MailboxUnavailable', `Graph ${route} answered 403 ${error.code ?? 'ErrorAccessDenied'}: an application access policy excludes the mailbox${request}`, { status: 403, serviceCode: 'ErrorAccessDenied' });
    }
    return errorForStatus(`Graph ${route}`, error.statusCode, { code: error.code, requestId: error.requestId }, error.headers?.get('retry-after'));
  }
  return new SyncError('Transient', `Graph ${route}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

const enc = (segment: string) => encodeURIComponent(segment);
