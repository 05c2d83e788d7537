// OData string literals for Dataverse and Graph $filter expressions: the value in single quotes, each single quote
// inside doubled (OData ABNF, SQUOTE-in-string:
// https://docs.oasis-open.org/odata/odata/v4.01/os/abnf/odata-abnf-construction-rules.txt). Every $filter that
// compares with a string builds its literal here, so no value can end the literal early and change the query.

/** The OData string literal for a value, quotes included: `O'Brien` -> `'O''Brien'`. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
