// Contact routes: contacts of the default folder, contact folders, the contacts of a folder and their delta.
import type { RouteContext, RouteRegistrar } from '../routing.js';
import { presentOptions, selectList } from '../requestOptions.js';
import type { ItemRecord } from '../store.js';
import type { World } from '../world.js';
import { present } from './common.js';
import { contactFolderSpec, contactSpec, type ContactService } from './contacts.js';
import { json, ok204, type Responses } from './responses.js';

export function registerContactRoutes(r: RouteRegistrar, res: Responses, contacts: ContactService, world: World): void {
  r.add('GET', 'users/{u}/contacts', 'contacts', 'read', (ctx) =>
    res.list(ctx, { spec: contactSpec, kind: 'contact', collections: [contacts.contactsKey(ctx.mb, ctx.mb.defaultContactFolderId)], contextPath: `users('${ctx.userSeg}')/contacts`, linkPath: `/users/${ctx.userSeg}/contacts` }),
  );
  r.add('POST', 'users/{u}/contacts', 'contacts', 'write', (ctx) => res.entity(ctx, contactSpec, contacts.create(ctx.mb, ctx.mb.defaultContactFolderId, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/contacts`, 201));
  r.add('GET', 'users/{u}/contacts/{id}', 'contacts', 'read', (ctx) => res.entity(ctx, contactSpec, contacts.find(ctx.mb, ctx.params.id as string), `users('${ctx.userSeg}')/contacts`));
  r.add('PATCH', 'users/{u}/contacts/{id}', 'contacts', 'write', (ctx) =>
    res.entity(ctx, contactSpec, contacts.update(contacts.find(ctx.mb, ctx.params.id as string), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), `users('${ctx.userSeg}')/contacts`),
  );
  r.add('DELETE', 'users/{u}/contacts/{id}', 'contacts', 'write', (ctx) => {
    contacts.delete(contacts.find(ctx.mb, ctx.params.id as string), ctx.actor, ctx.req.headers['if-match']);
    return ok204();
  });
  r.add('GET', 'users/{u}/contactFolders', 'contacts', 'read', (ctx) =>
    res.list(ctx, { spec: contactFolderSpec, kind: 'contactFolder', collections: [contacts.folderCollectionKey(ctx.mb)], contextPath: `users('${ctx.userSeg}')/contactFolders`, linkPath: `/users/${ctx.userSeg}/contactFolders` }),
  );
  r.add('POST', 'users/{u}/contactFolders', 'contacts', 'write', (ctx) => res.entity(ctx, contactFolderSpec, contacts.createFolder(ctx.mb, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/contactFolders`, 201));
  r.add('GET', 'users/{u}/contactFolders/{f}', 'contacts', 'read', (ctx) => {
    const id = contacts.folderId(ctx.mb, ctx.params.f as string);
    const view = id === ctx.mb.defaultContactFolderId ? contacts.defaultFolderView(ctx.mb) : present(contactFolderSpec, world.items.get(id) as ItemRecord, presentOptions(ctx.req.query, contactFolderSpec, ctx.prefs));
    return json(200, { '@odata.context': `${res.base}/v1.0/$metadata#users('${ctx.userSeg}')/contactFolders/$entity`, ...view });
  });
  r.add('PATCH', 'users/{u}/contactFolders/{f}', 'contacts', 'write', (ctx) =>
    res.entity(ctx, contactFolderSpec, contacts.updateFolder(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string), ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/contactFolders`),
  );
  r.add('DELETE', 'users/{u}/contactFolders/{f}', 'contacts', 'write', (ctx) => {
    contacts.deleteFolder(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string), ctx.actor);
    return ok204();
  });
  r.add('GET', 'users/{u}/contactFolders/{f}/contacts/delta', 'contacts', 'read', (ctx) => {
    const folderId = contacts.folderId(ctx.mb, ctx.params.f as string);
    return res.delta(ctx, contactSpec, '#microsoft.graph.contact', 'contact', () => {
      const linkBase = `${res.base}/v1.0/users/${ctx.userSeg}/contactFolders/${ctx.params.f ?? ''}/contacts/delta`;
      const select = selectList(ctx.req.query);
      return { userId: ctx.mb.user.id, collectionKey: contacts.contactsKey(ctx.mb, folderId), linkBase, restartUrl: linkBase, ...(select ? { select } : {}) };
    });
  });
  r.add('GET', 'users/{u}/contactFolders/{f}/contacts', 'contacts', 'read', (ctx) =>
    res.list(ctx, {
      spec: contactSpec,
      kind: 'contact',
      collections: [contacts.contactsKey(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string))],
      contextPath: `users('${ctx.userSeg}')/contactFolders('${ctx.params.f ?? ''}')/contacts`,
      linkPath: `/users/${ctx.userSeg}/contactFolders/${ctx.params.f ?? ''}/contacts`,
    }),
  );
  r.add('POST', 'users/{u}/contactFolders/{f}/contacts', 'contacts', 'write', (ctx) =>
    res.entity(ctx, contactSpec, contacts.create(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string), ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/contacts`, 201),
  );
  const folderContact = (ctx: RouteContext) => world.get(contacts.contactsKey(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string)), ctx.params.id as string) as ReturnType<ContactService['find']>;
  r.add('GET', 'users/{u}/contactFolders/{f}/contacts/{id}', 'contacts', 'read', (ctx) => res.entity(ctx, contactSpec, folderContact(ctx), `users('${ctx.userSeg}')/contacts`));
  r.add('PATCH', 'users/{u}/contactFolders/{f}/contacts/{id}', 'contacts', 'write', (ctx) =>
    res.entity(ctx, contactSpec, contacts.update(folderContact(ctx), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), `users('${ctx.userSeg}')/contacts`),
  );
  r.add('DELETE', 'users/{u}/contactFolders/{f}/contacts/{id}', 'contacts', 'write', (ctx) => {
    contacts.delete(folderContact(ctx), ctx.actor, ctx.req.headers['if-match']);
    return ok204();
  });

}
