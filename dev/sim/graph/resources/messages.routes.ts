// Mail routes: messages across folders, drafts, send and sendMail, mail folders and a folder's messages and delta.
import { selectList } from '../requestOptions.js';
import type { RouteRegistrar } from '../routing.js';
import type { ItemRecord, Mailbox } from '../store.js';
import { collectionKeys, type World } from '../world.js';
import { mailFolderSpec, messageSpec, type MessageService } from './messages.js';
import { accepted, ok204, type Responses } from './responses.js';

export function registerMessageRoutes(r: RouteRegistrar, res: Responses, messages: MessageService, world: World): void {
  const allMailCollections = (mb: Mailbox) => [...mb.mailFolders.values()].map((f) => collectionKeys.messages(mb.user.id, f));
  r.add('GET', 'users/{u}/messages', 'mail', 'read', (ctx) =>
    res.list(ctx, { spec: messageSpec, kind: 'message', collections: allMailCollections(ctx.mb), contextPath: `users('${ctx.userSeg}')/messages`, linkPath: `/users/${ctx.userSeg}/messages` }),
  );
  r.add('POST', 'users/{u}/messages', 'mail', 'write', (ctx) => res.entity(ctx, messageSpec, messages.create(ctx.mb, ctx.mb.mailFolders.get('drafts') as string, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/messages`, 201));
  r.add('GET', 'users/{u}/messages/{id}', 'mail', 'read', (ctx) => res.entity(ctx, messageSpec, messages.find(ctx.mb, ctx.params.id as string), `users('${ctx.userSeg}')/messages`));
  r.add('PATCH', 'users/{u}/messages/{id}', 'mail', 'write', (ctx) =>
    res.entity(ctx, messageSpec, messages.update(messages.find(ctx.mb, ctx.params.id as string), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), `users('${ctx.userSeg}')/messages`),
  );
  r.add('DELETE', 'users/{u}/messages/{id}', 'mail', 'write', (ctx) => {
    messages.delete(messages.find(ctx.mb, ctx.params.id as string), ctx.actor, ctx.req.headers['if-match']);
    return ok204();
  });
  r.add('POST', 'users/{u}/messages/{id}/send', 'mail', 'send', (ctx) => {
    messages.send(ctx.mb, messages.find(ctx.mb, ctx.params.id as string), ctx.actor);
    return accepted();
  });
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
  r.add('GET', 'users/{u}/mailFolders/{f}/messages/delta', 'mail', 'read', (ctx) => {
    const folderId = messages.folderId(ctx.mb, ctx.params.f as string);
    return res.delta(ctx, messageSpec, '#microsoft.graph.message', 'message', () => {
      const linkBase = `${res.base}/v1.0/users/${ctx.userSeg}/mailFolders/${ctx.params.f ?? ''}/messages/delta`;
      const select = selectList(ctx.req.query);
      return { userId: ctx.mb.user.id, collectionKey: messages.folderKey(ctx.mb, folderId), linkBase, restartUrl: linkBase, ...(select ? { select } : {}) };
    });
  });
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
    res.entity(ctx, messageSpec, messages.create(ctx.mb, messages.folderId(ctx.mb, ctx.params.f as string), ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/messages`, 201),
  );

}
