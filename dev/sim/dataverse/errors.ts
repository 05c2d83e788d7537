// Dataverse Web API errors: `{ error: { code, message } }` where code is the platform's hex error code
// (samples/dataverse-error-body.json; PAD webapi/compose-http-requests-handle-errors.md "Parse errors from the response").

/** The hex codes the simulator answers with, each with where it comes from. */
export const ErrorCodes = {
  /** ObjectDoesNotExist, "Entity 'x' With Id = ... Does Not Exist" (troubleshoot client-errors page: -2147220969). */
  ObjectDoesNotExist: '0x80040217',
  /** DuplicateRecord, "Cannot insert duplicate key" (troubleshoot client-errors page: -2147220937). */
  DuplicateRecord: '0x80040237',
  /** ConcurrencyVersionMismatch (-2147088254), a stale If-Match. */
  ConcurrencyVersionMismatch: '0x80060882',
  /** InvalidArgument: a value outside what the column accepts. */
  InvalidArgument: '0x80040203',
  /** InvalidStateCodeStatusCode: "<n> is not a valid status code for state code <X>State.<Y> on <entity> with Id <id>." */
  InvalidStateCodeStatusCode: '0x80048408',
  /** "The object cannot be updated because it is read-only." (a closed activity). */
  ReadOnlyObject: '0x8004022e',
  /** OData: unknown segment or property ("Resource not found for the segment", "Could not find a property named"). */
  ODataResourceNotFound: '0x80060888',
  /** OData: a query option or syntax the service does not accept. */
  ODataNotSupported: '0x8006088a',
  /** ExpiredVersionStamp: "Version stamp associated with the client has expired. Please perform a full sync." */
  ExpiredVersionStamp: '0x80044352',
  /** Service protection (api-limits.md; samples/dataverse-429-service-protection.txt). */
  RequestsLimit: '0x80072322',
  ExecutionTimeLimit: '0x80072321',
  ConcurrencyLimit: '0x80072326',
  /** "The user is not a member of the organization." (no application user for the token's client id). */
  UserNotInOrganization: '0x80072560',
  /** PrivilegeDenied: the user a write runs as lacks the table's privilege (privileges.ts, when enforcing). */
  PrivilegeDenied: '0x80040220',
  /** A disabled user (isdisabled = true) was used or impersonated. */
  UserDisabled: '0x80040225',
  /** "An unexpected error occurred." (injected 5xx). */
  Unexpected: '0x80040216',
} as const;

/** An error answered to a Web API caller with a specific HTTP status and Dataverse error code. */
export class DataverseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The documented error body. */
  body(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** 404 for a record that does not exist, with Dataverse's message. */
export function notFound(logicalName: string, id: string): DataverseError {
  return new DataverseError(404, ErrorCodes.ObjectDoesNotExist, `Entity '${logicalName}' With Id = ${id} Does Not Exist`);
}

/** 400 for a bad value, naming the column. */
export function badValue(message: string): DataverseError {
  return new DataverseError(400, ErrorCodes.InvalidArgument, message);
}

/** 400 for an OData syntax or option problem. */
export function badQuery(message: string): DataverseError {
  return new DataverseError(400, ErrorCodes.ODataNotSupported, message);
}
