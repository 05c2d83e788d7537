// Mail routes: messages across folders, drafts, replies and forwards, send and sendMail, move and copy,
// attachments and upload sessions, mail folders and a folder's messages and delta, and the mailbox's master
// category list. Each mail request first submits messages whose Outbox wait is over (MessageService.pump).
import { queryParam, selectList } from '../requestOptions.js';
import type { RouteContext, RouteRegistrar } from '../routing.js';
import type { ItemRecord, Mailbox } from '../store.js';
import { collectionKeys, type World } from '../world.js';
import { ATTACHMENT_PROPERTIES, attachmentView } from './attachments.js';
import { GraphError } from '../graphError.js';
import { mailFolderSpec, messageSpec, type MessageRecord, type MessageService } from './messages.js';
import { accepted, json, ok204, type Responses } from './responses.js';

export function registerMessageRoutes(registrar: RouteRegistrar, res: Responses, messages: MessageService, world: World): void {
  const categories = messages.categories;
  const r: RouteRegistrar = {
    add: (method, path, family, access, handler, mailbox) =>
      registrar.add(
        method,
        path,
        family,
        access,
        (ctx) => {
          messages.pump();
          return handler(ctx);
        },
        mailbox,
      ),
  };
  const allMailCollections = (mb: Mailbox) => [...mb.mailFolders.values()].map((f) => collectionKeys.messages(mb.user.id, f));
  const ctxPath = (ctx: RouteContext) => `users('${ctx.userSeg}')/messages`;
  const message = (ctx: RouteContext): MessageRecord => {
    const m = messages.find(ctx.mb, ctx.params.id as string);
    // Under /mailFolders/{f}/messages/{id} the message must be in that folder.
    if (ctx.params.f !== undefined && m.parentId !== messages.folderId(ctx.mb, ctx.params.f)) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return m;
  };

  r.add('GET', 'users/{u}/messages', 'mail', 'read', (ctx) =>
    res.list(ctx, { spec: messageSpec, kind: 'message', collections: allMailCollections(ctx.mb), contextPath: `users('${ctx.userSeg}')/messages`, linkPath: `/users/${ctx.userSeg}/messages` }),
  );
  r.add('POST', 'users/{u}/messages', 'mail', 'write', (ctx) => res.entity(ctx, messageSpec, messages.create(ctx.mb, ctx.mb.mailFolders.get('drafts') as string, ctx.req.body, ctx.actor), ctxPath(ctx), 201));

  // Delta only per folder (https://learn.microsoft.com/graph/delta-query-messages); before {id} in the same place.
  r.add('GET', 'users/{u}/mailFolders/{f}/messages/delta', 'mail', 'read', (ctx) => {
    const folderId = messages.folderId(ctx.mb, ctx.params.f as string);
    return res.delta(ctx, messageSpec, '#microsoft.graph.message', 'message', () => {
      const linkBase = `${res.base}/v1.0/users/${ctx.userSeg}/mailFolders/${ctx.params.f ?? ''}/messages/delta`;
      const select = selectList(ctx.req.query);
      return { userId: ctx.mb.user.id, collectionKey: messages.folderKey(ctx.mb, folderId), linkBase, restartUrl: linkBase, ...(select ? { select } : {}) };
    });
  });
  // The same item routes under /messages/{id} and /mailFolders/{f}/messages/{id}.
  for (const base of ['users/{u}/messages/{id}', 'users/{u}/mailFolders/{f}/messages/{id}']) {
    r.add('GET', base, 'mail', 'read', (ctx) => res.entity(ctx, messageSpec, message(ctx), ctxPath(ctx)));
    r.add('PATCH', base, 'mail', 'write', (ctx) => res.entity(ctx, messageSpec, messages.update(message(ctx), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), ctxPath(ctx)));
    r.add('DELETE', base, 'mail', 'write', (ctx) => {
      messages.delete(message(ctx), ctx.actor, ctx.req.headers['if-match']);
      return ok204();
    });
    r.add('POST', `${base}/send`, 'mail', 'send', (ctx) => {
      messages.send(ctx.mb, message(ctx), ctx.actor);
      return accepted();
    });
    for (const [action, kind] of [
      ['createReply', 'reply'],
      ['createReplyAll', 'replyAll'],
      ['createForward', 'forward'],
    ] as const) {
      r.add('POST', `${base}/${action}`, 'mail', 'write', (ctx) => res.entity(ctx, messageSpec, messages.createResponse(ctx.mb, message(ctx), kind, ctx.req.body, ctx.actor), ctxPath(ctx), 201));
    }
    // reply/replyAll/forward: create the response draft and send it at once (202).
    for (const [action, kind] of [
      ['reply', 'reply'],
      ['replyAll', 'replyAll'],
      ['forward', 'forward'],
    ] as const) {
      r.add('POST', `${base}/${action}`, 'mail', 'send', (ctx) => {
        const draft = messages.createResponse(ctx.mb, message(ctx), kind, ctx.req.body, ctx.actor);
        try {
          messages.send(ctx.mb, draft, ctx.actor);
        } catch (err) {
          if (world.items.has(draft.id)) messages.delete(draft, ctx.actor);
          throw err;
        }
        return accepted();
      });
    }
    for (const mode of ['move', 'copy'] as const) {
      r.add('POST', `${base}/${mode}`, 'mail', 'write', (ctx) => res.entity(ctx, messageSpec, messages.moveOrCopy(ctx.mb, message(ctx), ctx.req.body, ctx.actor, mode, ctx.prefs.immutableId), ctxPath(ctx), 201));
    }
    r.add('GET', `${base}/attachments`, 'mail', 'read', (ctx) => {
      const select = attachmentSelect(ctx);
      return json(200, { '@odata.context': `${res.base}/v1.0/$metadata#${ctxPath(ctx)}('${ctx.params.id ?? ''}')/attachments`, value: message(ctx).data.attachments.map((a) => attachmentView(a, select)) });
    });
    r.add('POST', `${base}/attachments`, 'mail', 'write', (ctx) => {
      const a = messages.addAttachment(message(ctx), ctx.req.body, ctx.actor);
      return json(201, { '@odata.context': `${res.base}/v1.0/$metadata#${ctxPath(ctx)}('${ctx.params.id ?? ''}')/attachments/$entity`, ...attachmentView(a) });
    });
    r.add('POST', `${base}/attachments/createUploadSession`, 'mail', 'write', (ctx) => {
      const m = message(ctx);
      if (!m.data.isDraft) throw new GraphError(400, 'ErrorInvalidOperation', 'Attachments can only be added to a draft.');
      return json(201, messages.createUploadSession(ctx.mb, m, ctx.req.body));
    });
    r.add('GET', `${base}/attachments/{a}`, 'mail', 'read', (ctx) => {
      const a = messages.attachment(message(ctx), ctx.params.a as string);
      return json(200, { '@odata.context': `${res.base}/v1.0/$metadata#${ctxPath(ctx)}('${ctx.params.id ?? ''}')/attachments/$entity`, ...attachmentView(a, attachmentSelect(ctx)) });
    });
    r.add('GET', `${base}/attachments/{a}/$value`, 'mail', 'read', (ctx) => {
      const a = messages.attachment(message(ctx), ctx.params.a as string);
      if (a.kind !== 'file') throw new GraphError(400, 'ErrorInvalidRequest', 'A referenceAttachment has no raw contents.');
      return { status: 200, headers: { 'Content-Type': a.contentType ?? 'application/octet-stream' }, body: a.bytes ?? Buffer.alloc(0) };
    });
    r.add('DELETE', `${base}/attachments/{a}`, 'mail', 'write', (ctx) => {
      messages.deleteAttachment(message(ctx), ctx.params.a as string, ctx.actor);
      return ok204();
    });
  }

  r.add('POST', 'users/{u}/sendMail', 'mail', 'send', (ctx) => {
    messages.sendMail(ctx.mb, ctx.req.body, ctx.actor);
    return accepted();
  });
  r.add('GET', 'users/{u}/mailFolders', 'mail', 'read', (ctx) =>
    res.list(ctx, { spec: mailFolderSpec, kind: 'mailFolder', collections: [collectionKeys.mailFolders(ctx.mb.user.id)], contextPath: `users('${ctx.userSeg}')/mailFolders`, linkPath: `/users/${ctx.userSeg}/mailFolders` }),
  );
  r.add('GET', 'users/{u}/mailFolders/{f}', 'mail', 'read', (ctx) =>
    res.entity(ctx, mailFolderSpec, world.items.get(messages.folderId(ctx.mb, ctx.params.f as string)) as ItemRecord, `users('${ctx.userSeg}')/mailFolders`),
  );
  r.add('GET', 'users/{u}/mailFolders/{f}/messages', 'mail', 'read', (ctx) =>
    res.list(ctx, {
      spec: messageSpec,
      kind: 'message',
      collections: [messages.folderKey(ctx.mb, messages.folderId(ctx.mb, ctx.params.f as string))],
      contextPath: `users('${ctx.userSeg}')/mailFolders('${ctx.params.f ?? ''}')/messages`,
      linkPath: `/users/${ctx.userSeg}/mailFolders/${ctx.params.f ?? ''}/messages`,
    }),
  );
  r.add('POST', 'users/{u}/mailFolders/{f}/messages', 'mail', 'write', (ctx) =>
    res.entity(ctx, messageSpec, messages.create(ctx.mb, messages.folderId(ctx.mb, ctx.params.f as string), ctx.req.body, ctx.actor), ctxPath(ctx), 201),
  );

  // outlookCategory (https://learn.microsoft.com/graph/api/resources/outlookcategory): read with
  // MailboxSettings.Read, written with MailboxSettings.ReadWrite.
  const catPath = (ctx: RouteContext) => `users('${ctx.userSeg}')/outlook/masterCategories`;
  r.add('GET', 'users/{u}/outlook/masterCategories', 'mailboxSettings', 'read', (ctx) => json(200, { '@odata.context': `${res.base}/v1.0/$metadata#${catPath(ctx)}`, value: categories.list(ctx.mb.user.id) }));
  r.add('POST', 'users/{u}/outlook/masterCategories', 'mailboxSettings', 'write', (ctx) => json(201, { '@odata.context': `${res.base}/v1.0/$metadata#${catPath(ctx)}/$entity`, ...categories.create(ctx.mb.user.id, ctx.req.body) }));
  r.add('GET', 'users/{u}/outlook/masterCategories/{c}', 'mailboxSettings', 'read', (ctx) => json(200, { '@odata.context': `${res.base}/v1.0/$metadata#${catPath(ctx)}/$entity`, ...categories.get(ctx.mb.user.id, ctx.params.c as string) }));
  r.add('PATCH', 'users/{u}/outlook/masterCategories/{c}', 'mailboxSettings', 'write', (ctx) =>
    json(200, { '@odata.context': `${res.base}/v1.0/$metadata#${catPath(ctx)}/$entity`, ...categories.update(ctx.mb.user.id, ctx.params.c as string, ctx.req.body) }),
  );
  r.add('DELETE', 'users/{u}/outlook/masterCategories/{c}', 'mailboxSettings', 'write', (ctx) => {
    categories.delete(ctx.mb.user.id, ctx.params.c as string);
    return ok204();
  });
}

function attachmentSelect(ctx: RouteContext): ReadonlySet<string> | undefined {
  const s = queryParam(ctx.req.query, '$select');
  if (!s) return undefined;
  const set = new Set<string>();
  for (const p of s.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    if (p !== 'id' && !ATTACHMENT_PROPERTIES.has(p)) throw new GraphError(400, 'BadRequest', `Could not find a property named '${p}' on type 'microsoft.graph.attachment'.`);
    set.add(p);
  }
  return set;
}

