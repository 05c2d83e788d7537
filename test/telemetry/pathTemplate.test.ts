// The name of a Graph or Dataverse dependency call keeps the API's words and drops every id, key and query: a UPN in
// a path or a filter quoting an item's value must not become a dependency name in Application Insights.
import { describe, expect, it } from 'vitest';
import { pathTemplate } from '../../shared/telemetry/index.js';

describe('pathTemplate', () => {
  it.each([
    ['https://graph.microsoft.com/v1.0/users/alice%40contoso.example', '/v1.0/users/{id}'],
    ['https://graph.microsoft.com/v1.0/users/0b6f8a2c-3d4e-4f50-9a1b-2c3d4e5f6a70/events/AAMkAGI2TG93AAA%3D?$filter=iCalUId%20eq%20%27x%27', '/v1.0/users/{id}/events/{id}'],
    ['https://graph.microsoft.com/v1.0/users/0b6f8a2c-3d4e-4f50-9a1b-2c3d4e5f6a70/calendarView/delta?startDateTime=2026-01-01', '/v1.0/users/{id}/calendarView/delta'],
    ['https://graph.microsoft.com/v1.0/users/u/todo/lists/AAMkADIyAAAhrbPXAAA%3D/tasks/AAMkADIy%2FAA-_x/', '/v1.0/users/{id}/todo/lists/{id}/tasks/{id}/'],
    ['https://graph.microsoft.com/v1.0/users/0b6f8a2c-3d4e-4f50-9a1b-2c3d4e5f6a70/events/AAMk1/cancel', '/v1.0/users/{id}/events/{id}/cancel'],
    ['https://graph.microsoft.com/v1.0/subscriptions/7f105c7d-2dc5-4530-97cd-4e7ae6534c07', '/v1.0/subscriptions/{id}'],
    ['https://graph.microsoft.com/beta/$batch', '/beta/$batch'],
    ['https://contoso.crm.dynamics.com/api/data/v9.2/appointments(0b6f8a2c-3d4e-4f50-9a1b-2c3d4e5f6a70)?tag=dataverse-exchange-sync', '/api/data/v9.2/appointments({id})'],
    ["https://contoso.crm.dynamics.com/api/data/v9.2/contacts(emailaddress1='carol%40fabrikam.example')", '/api/data/v9.2/contacts({id})'],
    ['https://contoso.crm.dynamics.com/api/data/v9.2/contacts?$filter=emailaddress1%20eq%20%27carol%40fabrikam.example%27', '/api/data/v9.2/contacts'],
    ['https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI', '/api/data/v9.2/WhoAmI'],
    ['https://127.0.0.1:8443/api/data/v9.2/appointments%28%27Quarterly%20review%27%29', '/api/data/v9.2/appointments({id})'],
    ['not a url?$filter=subject eq secret', '{id}'],
  ])('%s -> %s', (url, template) => {
    expect(pathTemplate(url)).toBe(template);
  });

  it('keeps nothing of a segment that is not a word of the API, however it is encoded', () => {
    for (const value of ['Quarterly review', 'carol@fabrikam.example', 'a%ZZb', 'x'.repeat(41)]) {
      const template = pathTemplate(`https://graph.microsoft.com/v1.0/users/${encodeURIComponent(value)}/events`);
      expect(template).toBe('/v1.0/users/{id}/events');
    }
  });
});
