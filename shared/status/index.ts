// The status report, read by the HTTP handlers (shared/handlers/status.ts: JSON and the page) and the CLI's `status`
// command.
export { buildStatus, type Backlog, type BreakerHoldStatus, type DecisionStatus, type MailboxStatus, type StatusReport } from './report.js';
export { renderStatusPage, statusPageHeaders, type PageExplain, type PageOptions } from './page.js';
export { explainItem, type ExplainedMailbox, type ExplainedPair, type Explanation } from './explain.js';
