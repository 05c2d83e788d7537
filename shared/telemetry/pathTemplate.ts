// The name of a dependency call: its method and path with every id replaced, never its query. Graph and Dataverse
// paths carry mailbox UPNs (an address), item ids and alternate keys, and their queries carry filters that quote
// item values (an iCalUId, a contact's e-mail address): none of that may become a dependency name, which is also
// what Application Insights groups calls by (one row per template, not one per item).
//
// A segment stays when it is a word of the API (letters and dots only, like `events`, `calendarView`, `delta`,
// `microsoft.graph.delta`, `WhoAmI`) or a version (`v1.0`, `v9.2`, `beta`); anything else is `{id}`: Entra object ids
// and Dataverse ids are GUIDs, Graph item ids are base64 with digits and `=`/`-`, a UPN holds `@`. A key in
// parentheses (`appointments(<guid>)`, `contacts(emailaddress1='...')`) keeps its entity set and loses the key.
// After a Graph collection (`users`, `events`, ...) the next segment is a member's key whatever it looks like (a
// mailbox may be named by a letters-only alias), unless it is a function of the collection (`delta`).

const word = /^[A-Za-z][A-Za-z.]{0,39}$/;
const version = /^v\d+(\.\d+)?$/;
const collections = new Set(['users', 'events', 'calendars', 'calendarView', 'contacts', 'contactFolders', 'lists', 'tasks', 'linkedResources', 'messages', 'mailFolders', 'attachments', 'subscriptions', 'groups']);
const collectionFunctions = new Set(['delta', '$count', 'count']);

function segmentTemplate(segment: string): string {
  const keyed = /^([A-Za-z][A-Za-z.]{0,39})\(.*\)$/.exec(segment);
  if (keyed) return `${keyed[1]}({id})`;
  if (segment === '' || word.test(segment) || version.test(segment) || segment === '$batch') return segment;
  return '{id}';
}

/** `GET https://graph.microsoft.com/v1.0/users/a@b/events?$filter=...` -> `/v1.0/users/{id}/events`. */
export function pathTemplate(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url.split(/[?#]/)[0] ?? '';
  }
  // Each segment is decoded on its own, so an encoded key (`appointments(%27x%27)`) is judged as the key it is and an
  // encoded '/' inside an id does not split it.
  const segments = path.split('/').map(decoded);
  return (
    segments
      .map((segment, i) => {
        const afterCollection = i > 0 && collections.has(segments[i - 1]!) && segment !== '' && !collectionFunctions.has(segment) && !segment.startsWith('microsoft.graph.');
        return afterCollection ? '{id}' : segmentTemplate(segment);
      })
      .join('/') || '/'
  );
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
