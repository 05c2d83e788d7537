// The entry point the Functions host loads (package.json "main"): registers every row of the function table.
import { app } from '@azure/functions';
import { startTelemetry } from '../shared/telemetry/index.js';
import { functionTable } from './table.js';

// Before any function runs, so the first invocation is traced too (off without APPLICATIONINSIGHTS_CONNECTION_STRING;
// the runtime starts it from the parsed settings otherwise, once per process).
startTelemetry(process.env);

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
