/**
 * The backfill's search attributes (src/common/search-attributes.ts) must be registered on the namespace:
 * without them every upsertSearchAttributes fails the workflow task, which the server retries
 * for ever, so the backfill hangs instead of failing. The preflight activity and the worker's
 * start-up check them and print the commands that create them.
 */
import { SEARCH_ATTRIBUTES } from '../../common/search-attributes';

/** Custom search attributes of a namespace: name -> type (SearchAttributeType, e.g. KEYWORD). */
export type SearchAttributeLister = (namespace: string) => Promise<Record<string, string>>;

/** The part of a Temporal connection (NativeConnection or client Connection) the lister uses. */
export interface OperatorServiceConnection {
  operatorService: {
    listSearchAttributes(request: { namespace: string }): Promise<{ customAttributes?: Record<string, number> | null }>;
  };
}

export function searchAttributeLister(connection: OperatorServiceConnection): SearchAttributeLister {
  return async (namespace) => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return Object.fromEntries(Object.entries(customAttributes ?? {}).map(([name, wire]) => [name, typeName(wire)]));
  };
}

/** temporal.api.enums.v1.IndexedValueType wire values, as SearchAttributeType names. */
const WIRE_TYPE = ['UNSPECIFIED', 'TEXT', 'KEYWORD', 'INT', 'DOUBLE', 'BOOL', 'DATETIME', 'KEYWORD_LIST'];

function typeName(wire: number): string {
  return WIRE_TYPE[wire] ?? `type ${wire}`;
}

/** How `temporal operator search-attribute create --type` spells a type. */
const CLI_TYPE: Record<string, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};
const cliType = (type: string) => CLI_TYPE[type] ?? type;

/**
 * What is wrong with the namespace's search attributes for the backfill, as a message with the
 * commands that fix it; undefined when all are there with the right types.
 */
export function searchAttributeProblem(namespace: string, registered: Record<string, string>): string | undefined {
  const expected = Object.values(SEARCH_ATTRIBUTES);
  const missing = expected.filter((k) => registered[k.name] === undefined);
  const wrong = expected.filter((k) => registered[k.name] !== undefined && registered[k.name] !== k.type);
  if (missing.length === 0 && wrong.length === 0) return undefined;
  const lines: string[] = [];
  if (missing.length > 0) {
    lines.push(
      `namespace "${namespace}" lacks the backfill's search attributes ${missing.map((k) => `${k.name} (${cliType(k.type)})`).join(', ')}; ` +
        'a backfill would hang on its first upsertSearchAttributes. Create them (same connection settings as the worker):',
    );
    // One --type per --name, paired in order (a --type does not carry over to the next names).
    const pairs = missing.map((k) => `--name ${k.name} --type ${cliType(k.type)}`);
    lines.push(`  temporal operator search-attribute create --namespace ${namespace} ${pairs.join(' ')}`);
  }
  for (const k of wrong) {
    lines.push(
      `namespace "${namespace}" has search attribute ${k.name} as ${cliType(registered[k.name])}, the backfill needs ${cliType(k.type)}: ` +
        `remove it (temporal operator search-attribute remove --namespace ${namespace} --name ${k.name}) and create it again, or use another namespace`,
    );
  }
  return lines.join('\n');
}

/** gRPC codes meaning "this caller may not list search attributes here", as opposed to an outage. */
const NOT_PERMITTED = new Set([7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */]);

function listingNotPermitted(err: unknown): boolean {
  return NOT_PERMITTED.has((err as { code?: unknown } | undefined)?.code as number);
}

/**
 * Checks the namespace: the problem message, or undefined when it is fine or cannot be checked
 * because this identity may not list search attributes (then `warn` says so; the check is skipped
 * rather than refusing every backfill). Other listing errors (server unreachable) are thrown.
 */
export async function namespaceSearchAttributeProblem(
  list: SearchAttributeLister,
  namespace: string,
  warn: (message: string) => void,
): Promise<string | undefined> {
  let registered: Record<string, string>;
  try {
    registered = await list(namespace);
  } catch (err) {
    if (!listingNotPermitted(err)) throw err;
    warn(
      `cannot list the search attributes of namespace "${namespace}" (${(err as Error).message}); not checking them`,
    );
    return undefined;
  }
  return searchAttributeProblem(namespace, registered);
}
