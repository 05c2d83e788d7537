// The status report, read by the HTTP handler (shared/handlers/status.ts) and the CLI's `status` command.
export { buildStatus, type Backlog, type MailboxStatus, type StatusReport } from './report.js';
