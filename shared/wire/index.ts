// Export surface of the wire schemas: what arrives from the Dataverse Web API and from Microsoft Graph.
export * from './dataverse.js';
export * from './graph.js';
export { dataverseDate, dataverseDateTime, graphDateTimeTimeZone, isDateOnly, isIsoInstant, isLocalDateTime } from './dates.js';
export type { GraphDateTimeTimeZone } from './dates.js';
export { parseWire } from './parse.js';
