// The entry point the Functions host loads (package.json "main"): registers every row of the function table.
import { app } from '@azure/functions';
import { functionTable } from './table.js';

for (const fn of functionTable) {
  switch (fn.kind) {
    case 'http':
      app.http(fn.name, { route: fn.route, methods: fn.methods, authLevel: fn.authLevel, handler: fn.handler });
      break;
    case 'serviceBusQueue':
      app.serviceBusQueue(fn.name, { queueName: fn.queueName, connection: fn.connection, isSessionsEnabled: fn.isSessionsEnabled, handler: fn.handler });
      break;
    case 'timer':
      app.timer(fn.name, { schedule: fn.schedule, handler: fn.handler });
      break;
  }
}
