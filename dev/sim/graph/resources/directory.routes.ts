// Directory users: GET /users ($filter) and GET /users/{u} ($select), built from the seeded mailboxes.
import { matchesFilter, parseFilter } from '../odataFilter.js';
import { queryParam } from '../requestOptions.js';
import type { RouteRegistrar } from '../routing.js';
import type { Mailbox } from '../store.js';
import type { World } from '../world.js';
import { json, type Responses } from './responses.js';

export function registerDirectoryRoutes(r: RouteRegistrar, res: Responses, world: World): void {
  r.add(
    'GET',
    'users',
    'directory',
    'read',
    (ctx) => {
      const filterText = queryParam(ctx.req.query, '$filter');
      const filter = filterText ? parseFilter(filterText) : undefined;
      const users = [...world.mailboxes.values()].map((m) => userView(m)).filter((u) => !filter || matchesFilter(filter, u));
      return json(200, { '@odata.context': `${res.base}/v1.0/$metadata#users`, value: users });
    },
    false,
  );
  r.add('GET', 'users/{u}', 'directory', 'read', (ctx) => json(200, { '@odata.context': `${res.base}/v1.0/$metadata#users/$entity`, ...selectUser(userView(ctx.mb), ctx.req.query) }), false);
}

function userView(mb: Mailbox): Record<string, unknown> {
  const u = mb.user;
  return { businessPhones: [], displayName: u.displayName, givenName: u.givenName, jobTitle: null, mail: u.mail, mobilePhone: null, officeLocation: null, preferredLanguage: null, surname: u.surname, userPrincipalName: u.userPrincipalName, id: u.id };
}

function selectUser(view: Record<string, unknown>, q: URLSearchParams): Record<string, unknown> {
  const select = queryParam(q, '$select');
  if (!select) return view;
  const wanted = new Set(select.split(',').map((s) => s.trim().toLowerCase()));
  return Object.fromEntries(Object.entries(view).filter(([k]) => wanted.has(k.toLowerCase())));
}
