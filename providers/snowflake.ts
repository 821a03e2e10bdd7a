// `snowflake`: rows of one table through snowflake-sdk (the Node.js driver). source_path is
// `DB.SCHEMA.TABLE` (Snowflake identifiers: unquoted ones fold to upper case, "quoted" ones are exact;
// `SCHEMA.TABLE` / `TABLE` take the database / schema of provider_config). Each row is one entry:
//
// - sourceObjectId `DB.SCHEMA.TABLE/<key>`: the primary key (provider_config.primary_key_columns, or
//   the table's declared PRIMARY KEY): its text for a one-column key, a JSON array for a compound one;
// - path: the key's text (a compound key joined with `/`), plus `.json` when the content is the row;
// - content: the row as a JSON object (contentType application/json), or, with content_column, that
//   column's bytes (BINARY as is, text as UTF-8), the other columns being the metadata;
// - metadata: the row's columns (JSON values: timestamps ISO 8601, BINARY upper-case hex);
// - version and checksum: SHA-256 of the content and the other columns; size: the content's bytes;
// - modifiedAt: incremental_column when it holds a DATE / TIMESTAMP, else the epoch (a stable time;
//   `file_filters.modified_*` then see every row as old).
//
// Listing is keyset pagination, never OFFSET: ORDER BY (incremental_column NULLS FIRST, key columns)
// with LIMIT pageSize+1, resuming after the last row's values (the cursor), all values bound as `?`
// parameters. modifiedSince is pushed down as `incremental_column >= ?` when that column is temporal.
// Identifiers are always sent double-quoted with `"` doubled, so neither source_path nor a column name
// can inject SQL. One driver connection (one Snowflake session) per provider instance, opened on first
// use, closed after IDLE_CLOSE_MS without work. The driver's own retries are bounded (no login
// retries; query retries end at the statement deadline): the engine's Temporal activity retries.
import './snowflake-env';
import { createHash, createPrivateKey } from 'node:crypto';
import { Readable } from 'node:stream';
import type * as SnowflakeSdk from 'snowflake-sdk';
import type { Connection as SnowflakeConnection } from 'snowflake-sdk';
import { z } from 'zod';
import { lazyModule } from '../lib/lazy-module';
import { ProviderError } from './types';
import type { Capabilities, ListOptions, ListPage, SourceEntry, StorageProvider, TestResult } from './types';
import { endpointUrlSchema, failedTest, parseCredentials, withoutTrailingSlash } from './shared';

// Loaded on first use (lib/lazy-module.ts), after ./snowflake-env has set what it reads at load.
const snowflakeSdk = lazyModule(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('snowflake-sdk') as typeof SnowflakeSdk;
  sdk.configure({ logLevel: 'OFF', additionalLogToConsole: false });
  return sdk;
});

/** A session unused for this long is closed (its provider may be asked again later: it logs in anew). */
const IDLE_CLOSE_MS = 30_000;
/** open() streams the content in slices of this size. */
const STREAM_CHUNK = 64 * 1024;
/** Extra time past query_timeout_seconds before the client gives up on a statement (and cancels it). */
const CLIENT_GRACE_MS = 30_000;
const EPOCH = '1970-01-01T00:00:00.000Z';

// --- identifiers -------------------------------------------------------------------------------------

const UNQUOTED = /^[A-Za-z_][A-Za-z0-9_$]*/;
const MAX_IDENTIFIER = 255;

/**
 * Parses dotted Snowflake identifiers from the start of `text`: `NAME` (folded to upper case) or
 * `"Any Name"` (exact, `""` for a quote; no control characters). Returns the names and what follows.
 */
function parseIdentifiers(text: string): { names: string[]; rest: string } | null {
  const names: string[] = [];
  let i = 0;
  for (;;) {
    let name: string;
    if (text[i] === '"') {
      name = '';
      i++;
      for (;;) {
        if (i >= text.length) return null;
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            name += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        name += text[i++];
      }
      // eslint-disable-next-line no-control-regex
      if (name === '' || /[\u0000-\u001f]/.test(name)) return null;
    } else {
      const m = UNQUOTED.exec(text.slice(i));
      if (!m) return null;
      name = m[0].toUpperCase();
      i += m[0].length;
    }
    if (name.length > MAX_IDENTIFIER) return null;
    names.push(name);
    if (text[i] !== '.') return { names, rest: text.slice(i) };
    i++;
  }
}

/** Exactly one identifier, or null. */
function identifier(text: string): string | null {
  const p = parseIdentifiers(text);
  return p && p.names.length === 1 && p.rest === '' ? p.names[0] : null;
}

/** The identifier as SQL: always double-quoted, `"` doubled. */
export function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The identifier as a person writes it: bare when it needs no quotes, else quoted. */
function display(name: string): string {
  return /^[A-Z_][A-Z0-9_$]*$/.test(name) ? name : quote(name);
}

interface TableRef {
  database: string;
  schema: string;
  name: string;
  /** `DB.SCHEMA.TABLE` (quoted parts where needed): the prefix of every sourceObjectId. */
  display: string;
  sql: string;
}

function tableRef(database: string, schema: string, name: string): TableRef {
  return {
    database,
    schema,
    name,
    display: [database, schema, name].map(display).join('.'),
    sql: [database, schema, name].map(quote).join('.'),
  };
}

// --- configuration -----------------------------------------------------------------------------------

const identifierText = z
  .string()
  .min(1)
  .max(2 * MAX_IDENTIFIER + 2)
  .refine((s) => identifier(s) !== null, 'must be one Snowflake identifier: NAME or "Quoted Name"');

export const snowflakeConfigSchema = z.strictObject({
  /** Account identifier, e.g. `myorg-myaccount` or `xy12345.eu-central-1`. */
  account: z
    .string()
    .min(1)
    .max(255)
    .regex(/^\w+([.-]\w+)*$/, 'must be a Snowflake account identifier (letters, digits, _, - and .)'),
  warehouse: identifierText,
  database: identifierText.optional(),
  schema: identifierText.optional(),
  role: identifierText.optional(),
  /** A DATE / TIMESTAMP (or increasing number) column: ordering, modifiedAt and modifiedSince. */
  incremental_column: identifierText.optional(),
  /** The key of a row; the table's declared PRIMARY KEY when absent. */
  primary_key_columns: z.array(identifierText).min(1).max(16).optional(),
  /** (ours) A column whose value is the content (BINARY as is, text as UTF-8) instead of the row as JSON. */
  content_column: identifierText.optional(),
  query_timeout_seconds: z.number().int().min(30).max(3600).default(300),
  fetch_size: z.number().int().min(100).max(10000).default(1000),
  /** (ours) Where the driver connects (its `accessUrl`): a proxy, PrivateLink or test server. */
  endpoint_url: endpointUrlSchema.optional(),
});
export type SnowflakeConfig = z.infer<typeof snowflakeConfigSchema>;

const credentialsSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('key_pair'),
    username: z.string().min(1).max(255),
    private_key: z.string().min(1),
    private_key_passphrase: z.string().min(1).nullish(),
  }),
  z.object({
    type: z.literal('username_password'),
    username: z.string().min(1).max(255),
    password: z.string().min(1),
  }),
]);
export type SnowflakeCredentials = z.infer<typeof credentialsSchema>;

type Auth =
  | { username: string; authenticator: 'SNOWFLAKE_JWT'; privateKey: string }
  | { username: string; authenticator: 'SNOWFLAKE'; password: string };

function snowflakeAuth(credentials: Record<string, unknown> | null): Auth {
  const c = parseCredentials(credentialsSchema, credentials, 'snowflake', 'key_pair or username_password');
  if (c.type === 'username_password')
    return { username: c.username, authenticator: 'SNOWFLAKE', password: c.password };
  // The driver takes an unencrypted PKCS#8 PEM; decrypt (and convert a PKCS#1 key) here.
  let pem: string;
  try {
    const key = createPrivateKey({
      key: c.private_key,
      format: 'pem',
      ...(c.private_key_passphrase ? { passphrase: c.private_key_passphrase } : {}),
    });
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    pem = key.export({ format: 'pem', type: 'pkcs8' }).toString();
  } catch {
    throw new ProviderError(
      'snowflake credentials: private_key is not an RSA private key in PEM form (or private_key_passphrase does not open it)',
      'invalid',
      false,
    );
  }
  return { username: c.username, authenticator: 'SNOWFLAKE_JWT', privateKey: pem };
}

// --- errors ------------------------------------------------------------------------------------------

interface SdkError {
  name?: string;
  code?: string | number;
  message?: string;
  sqlState?: string;
  response?: { statusCode?: number };
  cause?: { code?: string };
}

/** Session codes after which the connection is gone: log in again on the next call. */
const SESSION_GONE = new Set(['390104', '390111', '390112', '390114']);
const NOT_FOUND = new Set(['002003', '002043', '390201', '390189']);
const TIMEOUT = new Set(['000630', '000604', '000625']);
/** Driver error codes: 401001 could not connect, 405502/405503 the connection is down. */
const DRIVER_DISCONNECTED = new Set([401001, 405501, 405502, 405503]);

/** Classifies a driver error; `what` names the operation. Never includes credentials (none are in it). */
export function snowflakeError(err: unknown, what: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as SdkError;
  const code = e.code === undefined ? '' : String(e.code);
  const status = e.response?.statusCode;
  const first = (e.message ?? '').split('\n').filter(Boolean).join(' ').slice(0, 500);
  const detail = [code && `code ${code}`, e.sqlState && `SQLSTATE ${e.sqlState}`, status && `HTTP ${status}`]
    .filter(Boolean)
    .join(', ');
  const message = `${what}: ${first || e.name || 'error'}${detail ? ` (${detail})` : ''}`;
  const make = (kind: ProviderError['kind'], retryable: boolean, hint = '') =>
    new ProviderError(message + hint, kind, retryable);

  if (status === 429) return make('throttled', true);
  if (status !== undefined && (status >= 500 || status === 408)) return make('unavailable', true);
  if (status === 401 || status === 403) return make('auth', false);
  if (SESSION_GONE.has(code)) return make('unavailable', true);
  if (code === '390144' || /^3901\d\d$/.test(code) || code === '390318' || code === '390303')
    return make('auth', false);
  if (NOT_FOUND.has(code)) return make('not_found', false);
  if (code === '000606')
    return make('invalid', false, ' (does provider_config.warehouse exist, and may the role use it?)');
  if (TIMEOUT.has(code)) return make('unavailable', true);
  if (e.name === 'NetworkError' || e.name === 'LargeResultSetError') return make('unavailable', true);
  if (typeof e.code === 'number' && DRIVER_DISCONNECTED.has(e.code)) return make('unavailable', true);
  if (e.name === 'OperationFailedError' || e.name === 'ClientError' || e.name === 'RequestFailedError')
    return make('invalid', false);
  if (status !== undefined && status >= 400) return make('invalid', false);
  return make('unavailable', true);
}

// --- values ------------------------------------------------------------------------------------------

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

interface ColumnInfo {
  name: string;
  type: string;
}

interface SfDateLike extends Date {
  getEpochSeconds?: () => number;
  getNanoSeconds?: () => number;
}

const TEMPORAL = /^(date|timestamp_ltz|timestamp_ntz|timestamp_tz)$/;

/** ISO 8601 in UTC with nanoseconds when the value has them. */
function isoOf(d: SfDateLike, offset = 'Z'): string {
  const secs = d.getEpochSeconds?.();
  const nanos = d.getNanoSeconds?.();
  if (secs === undefined || nanos === undefined) return d.toISOString().replace('Z', offset);
  const base = new Date(secs * 1000).toISOString().slice(0, 19);
  const frac =
    nanos % 1_000_000 === 0 ? String(nanos / 1_000_000).padStart(3, '0') : String(nanos).padStart(9, '0');
  return `${base}.${frac}${offset}`;
}

/** A driver value as JSON, by column type. */
function jsonOf(col: ColumnInfo, v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('hex').toUpperCase();
  if (v instanceof Date) return col.type === 'date' ? isoOf(v).slice(0, 10) : isoOf(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function' && !Array.isArray(v))
    return (v as { toJSON(): Json }).toJSON(); // TIME values
  return v as Json;
}

/** A key or cursor value as a bind parameter: timestamps as ISO 8601 with an explicit UTC offset. */
function bindOf(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('hex').toUpperCase();
  if (v instanceof Date) return isoOf(v, '+00:00');
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}

/** A key value as path text. */
function keyText(v: unknown): string {
  const b = bindOf(v);
  return b === null ? '' : String(b);
}

// --- cursor ------------------------------------------------------------------------------------------

interface Cursor {
  /** Table and ordering the cursor belongs to. */
  t: string;
  o: string[];
  /** Values of the ordering columns in the last row listed. */
  v: (string | number | boolean | null)[];
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

function decodeCursor(text: string, table: TableRef, order: string[]): Cursor {
  let c: Cursor;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
  } catch {
    throw new ProviderError('snowflake: the cursor is not one this provider made', 'invalid', false);
  }
  if (
    !c ||
    c.t !== table.display ||
    !Array.isArray(c.o) ||
    !Array.isArray(c.v) ||
    JSON.stringify(c.o) !== JSON.stringify(order) ||
    c.v.length !== order.length ||
    !c.v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x))
  )
    throw new ProviderError(
      `snowflake: the cursor belongs to another table or ordering than ${table.display} by ${order.join(', ')} (run a full sync)`,
      'invalid',
      false,
    );
  return c;
}

// --- the provider ------------------------------------------------------------------------------------

interface QueryResult {
  columns: ColumnInfo[];
  rows: unknown[][];
}

interface Row {
  columns: ColumnInfo[];
  values: unknown[];
}

export class SnowflakeProvider implements StorageProvider {
  private readonly auth: Auth;
  private session: Promise<SnowflakeConnection> | null = null;
  private busy = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Declared primary keys, by table. */
  private readonly declaredKeys = new Map<string, Promise<string[]>>();
  /** Whether incremental_column is temporal, by table (known after a look at the table's columns). */
  private readonly incrementalTemporal = new Map<string, boolean>();

  constructor(
    private readonly config: SnowflakeConfig,
    credentials: Record<string, unknown> | null,
  ) {
    this.auth = snowflakeAuth(credentials);
  }

  get capabilities(): Capabilities {
    // modifiedSince is pushed down only against a DATE / TIMESTAMP incremental column.
    const known = [...this.incrementalTemporal.values()];
    return {
      serverSideModifiedFilter: this.config.incremental_column !== undefined && !known.includes(false),
      deltaCursor: false,
      checksums: true,
    };
  }

  // --- session -------------------------------------------------------------------------------------

  private connect(): Promise<SnowflakeConnection> {
    const c = this.config;
    const conn = snowflakeSdk().createConnection({
      account: c.account,
      username: this.auth.username,
      authenticator: this.auth.authenticator,
      ...(this.auth.authenticator === 'SNOWFLAKE_JWT'
        ? { privateKey: this.auth.privateKey }
        : { password: this.auth.password }),
      warehouse: c.warehouse,
      ...(c.database ? { database: c.database } : {}),
      ...(c.schema ? { schema: c.schema } : {}),
      ...(c.role ? { role: c.role } : {}),
      ...(c.endpoint_url ? { accessUrl: withoutTrailingSlash(c.endpoint_url) } : {}),
      // No login retries in the driver: the engine's activity retries (with its own backoff).
      sfRetryMaxLoginRetries: 0,
      clientSessionKeepAlive: false,
    });
    return new Promise((resolve, reject) => {
      conn.connect((err) =>
        err ? reject(snowflakeError(err, `snowflake login to ${c.account}`)) : resolve(conn),
      );
    });
  }

  private async connection(): Promise<SnowflakeConnection> {
    if (this.session) {
      const conn = await this.session.catch(() => null);
      if (conn?.isUp()) return conn;
      this.session = null;
    }
    const p = this.connect();
    this.session = p;
    p.catch(() => {
      if (this.session === p) this.session = null;
    });
    return p;
  }

  private scheduleIdleClose(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.busy === 0) void this.close();
    }, IDLE_CLOSE_MS);
    this.idleTimer.unref();
  }

  /** Closes the Snowflake session (POST /session?delete=true); a later call logs in again. */
  async close(): Promise<void> {
    const p = this.session;
    this.session = null;
    const conn = p ? await p.catch(() => null) : null;
    if (conn?.isUp()) await new Promise<void>((resolve) => conn.destroy(() => resolve()));
  }

  /** Runs one statement with bind parameters; the rows as arrays in column order. */
  private async query(
    sqlText: string,
    binds: (string | number | boolean | null)[],
    what: string,
  ): Promise<QueryResult> {
    this.busy++;
    try {
      const conn = await this.connection();
      const timeoutS = this.config.query_timeout_seconds;
      return await new Promise<QueryResult>((resolve, reject) => {
        let settled = false;
        const timer = setTimeout(
          () => {
            if (settled) return;
            settled = true;
            statement.cancel(() => undefined);
            reject(
              new ProviderError(
                `${what}: no answer within ${timeoutS} s (query_timeout_seconds)`,
                'unavailable',
                true,
              ),
            );
          },
          timeoutS * 1000 + CLIENT_GRACE_MS,
        );
        const statement = conn.execute({
          sqlText,
          binds,
          rowMode: 'array',
          // Snowflake cancels the statement itself past this (error 000630, retryable).
          parameters: { STATEMENT_TIMEOUT_IN_SECONDS: timeoutS },
          complete: (err, stmt, rows) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (err) {
              const e = snowflakeError(err, what);
              if (e.retryable && !conn.isUp()) this.session = null;
              return reject(e);
            }
            const columns = (stmt.getColumns() ?? []).map((c) => ({ name: c.getName(), type: c.getType() }));
            resolve({ columns, rows: (rows ?? []) as unknown[][] });
          },
        });
      });
    } finally {
      this.busy--;
      this.scheduleIdleClose();
    }
  }

  // --- tables and keys -----------------------------------------------------------------------------

  /** `DB.SCHEMA.TABLE`, `SCHEMA.TABLE` or `TABLE` (with database / schema from provider_config). */
  table(sourcePath: string): TableRef {
    const p = parseIdentifiers(sourcePath.trim());
    const bad = () =>
      new ProviderError(
        `snowflake source_path ${JSON.stringify(sourcePath)} must be DB.SCHEMA.TABLE (identifiers bare or "double-quoted")`,
        'invalid',
        false,
      );
    if (!p || p.rest !== '' || p.names.length > 3) throw bad();
    const fill = (v: string | undefined, what: string) => {
      const id = v === undefined ? null : identifier(v);
      if (!id)
        throw new ProviderError(
          `snowflake source_path ${JSON.stringify(sourcePath)} names no ${what}, and provider_config.${what} is not set`,
          'invalid',
          false,
        );
      return id;
    };
    const n = p.names;
    if (n.length === 3) return tableRef(n[0], n[1], n[2]);
    if (n.length === 2) return tableRef(fill(this.config.database, 'database'), n[0], n[1]);
    return tableRef(fill(this.config.database, 'database'), fill(this.config.schema, 'schema'), n[0]);
  }

  private async keyColumns(t: TableRef): Promise<string[]> {
    const configured = this.config.primary_key_columns;
    if (configured) return configured.map((c) => identifier(c)!);
    let p = this.declaredKeys.get(t.display);
    if (!p) {
      p = (async () => {
        const r = await this.query(
          `SHOW PRIMARY KEYS IN TABLE ${t.sql}`,
          [],
          `snowflake primary key of ${t.display}`,
        );
        const col = r.columns.findIndex((c) => c.name === 'column_name');
        const seq = r.columns.findIndex((c) => c.name === 'key_sequence');
        const keys = r.rows
          .map((row) => ({ name: String(row[col]), seq: Number(row[seq]) }))
          .sort((a, b) => a.seq - b.seq)
          .map((k) => k.name);
        if (keys.length === 0)
          throw new ProviderError(
            `snowflake table ${t.display} declares no PRIMARY KEY: set provider_config.primary_key_columns`,
            'invalid',
            false,
          );
        return keys;
      })();
      this.declaredKeys.set(t.display, p);
      p.catch(() => this.declaredKeys.delete(t.display));
    }
    return p;
  }

  private get incrementalColumn(): string | null {
    return this.config.incremental_column ? identifier(this.config.incremental_column) : null;
  }

  private get contentColumn(): string | null {
    return this.config.content_column ? identifier(this.config.content_column) : null;
  }

  /** Checks that the configured columns are in the result; remembers the incremental column's type. */
  private checkColumns(t: TableRef, columns: ColumnInfo[], keys: string[]): void {
    const names = new Set(columns.map((c) => c.name));
    const missing = [...keys, this.incrementalColumn, this.contentColumn].filter(
      (c): c is string => c !== null && !names.has(c),
    );
    if (missing.length > 0)
      throw new ProviderError(
        `snowflake table ${t.display} has no column ${missing.map(quote).join(', ')} (names are case-sensitive; unquoted ones are upper case)`,
        'invalid',
        false,
      );
    const inc = this.incrementalColumn;
    if (inc)
      this.incrementalTemporal.set(t.display, TEMPORAL.test(columns.find((c) => c.name === inc)!.type));
  }

  // --- entries -------------------------------------------------------------------------------------

  private content(row: Row): { bytes: Buffer; json: Record<string, Json> } {
    const json: Record<string, Json> = {};
    const content = this.contentColumn;
    let bytes: Buffer | null = null;
    row.columns.forEach((c, i) => {
      const v = row.values[i];
      if (c.name === content) {
        bytes = Buffer.isBuffer(v)
          ? v
          : v === null || v === undefined
            ? Buffer.alloc(0)
            : Buffer.from(typeof v === 'string' ? v : JSON.stringify(jsonOf(c, v)), 'utf8');
      } else json[c.name] = jsonOf(c, v);
    });
    return { bytes: bytes ?? Buffer.from(JSON.stringify(json), 'utf8'), json };
  }

  private keyPath(keys: string[], row: Row): { id: string; path: string } {
    const values = keys.map((k) => row.values[row.columns.findIndex((c) => c.name === k)]);
    if (values.some((v) => v === null || v === undefined))
      throw new ProviderError(
        `snowflake: a row has NULL in key column ${keys.map(quote).join(', ')}`,
        'invalid',
        false,
      );
    const id = keys.length === 1 ? keyText(values[0]) : JSON.stringify(values.map(bindOf));
    const text = values.map(keyText).join('/');
    const path = text.replace(/^\/+/, '') || '_';
    return { id, path: this.contentColumn ? path : `${path}.json` };
  }

  private entryOf(t: TableRef, keys: string[], row: Row): SourceEntry {
    const { bytes, json } = this.content(row);
    const { id, path } = this.keyPath(keys, row);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const version = this.contentColumn
      ? createHash('sha256').update(JSON.stringify(json)).update('\n').update(sha).digest('hex')
      : sha;
    const inc = this.incrementalColumn;
    const incValue = inc === null ? null : row.values[row.columns.findIndex((c) => c.name === inc)];
    return {
      sourceObjectId: `${t.display}/${id}`,
      path,
      name: path.split('/').at(-1)!,
      size: bytes.length,
      modifiedAt: incValue instanceof Date ? isoOf(incValue) : EPOCH,
      version,
      ...(this.contentColumn ? {} : { contentType: 'application/json' }),
      checksum: `sha256:${sha}`,
      metadata: json,
    };
  }

  // --- the contract --------------------------------------------------------------------------------

  async list(sourcePath: string, options: ListOptions): Promise<ListPage> {
    const t = this.table(sourcePath);
    const keys = await this.keyColumns(t);
    const inc = this.incrementalColumn;
    const order = inc ? [inc, ...keys.filter((k) => k !== inc)] : keys;
    const limit = Math.max(1, Math.min(Math.floor(options.pageSize), this.config.fetch_size));
    const where: string[] = [];
    const binds: (string | number | boolean | null)[] = [];

    if (options.cursor) {
      const c = decodeCursor(options.cursor, t, order);
      // (o1 > v1) OR (o1 = v1 AND ((o2 > v2) OR (o2 = v2 AND …))); a NULL incremental value sorts first.
      const after = (i: number): string => {
        const col = quote(order[i]);
        const v = c.v[i];
        const last = i === order.length - 1;
        if (v === null) {
          if (order[i] !== inc)
            throw new ProviderError('snowflake: cursor has a NULL key value', 'invalid', false);
          return last
            ? `${col} IS NOT NULL`
            : `((${col} IS NULL AND (${after(i + 1)})) OR ${col} IS NOT NULL)`;
        }
        binds.push(v);
        if (last) return `${col} > ?`;
        binds.push(v);
        return `(${col} > ? OR (${col} = ? AND (${after(i + 1)})))`;
      };
      where.push(after(0));
    }
    if (options.modifiedSince && inc) {
      if (this.incrementalTemporal.get(t.display) === undefined) {
        // Look at the column types once (no rows), to push down only against a DATE / TIMESTAMP.
        const r = await this.query(`SELECT * FROM ${t.sql} LIMIT 0`, [], `snowflake columns of ${t.display}`);
        this.checkColumns(t, r.columns, keys);
      }
      if (this.incrementalTemporal.get(t.display)) {
        const since = new Date(options.modifiedSince);
        if (Number.isNaN(since.getTime()))
          throw new ProviderError(
            `snowflake: modifiedSince ${options.modifiedSince} is not a date`,
            'invalid',
            false,
          );
        where.push(`${quote(inc)} >= ?`);
        binds.push(since.toISOString().replace('Z', '+00:00'));
      }
    }
    const sql =
      `SELECT * FROM ${t.sql}` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY ${order.map((c) => (c === inc ? `${quote(c)} ASC NULLS FIRST` : `${quote(c)} ASC`)).join(', ')}` +
      ` LIMIT ${limit + 1}`;
    const r = await this.query(sql, binds, `snowflake list ${t.display}`);
    this.checkColumns(t, r.columns, keys);
    const rows = r.rows.slice(0, limit).map((values) => ({ columns: r.columns, values }));
    const entries = rows.map((row) => this.entryOf(t, keys, row));
    let nextCursor: string | null = null;
    if (r.rows.length > limit) {
      const last = rows[rows.length - 1];
      nextCursor = encodeCursor({
        t: t.display,
        o: order,
        v: order.map((col) => bindOf(last.values[last.columns.findIndex((c) => c.name === col)])),
      });
    }
    return { entries, nextCursor };
  }

  async open(entry: SourceEntry): Promise<Readable> {
    // sourceObjectId is `DB.SCHEMA.TABLE/<key>`: an entry opens on its own, as the DLQ replays it.
    const p = parseIdentifiers(entry.sourceObjectId);
    if (!p || p.names.length !== 3 || !p.rest.startsWith('/'))
      throw new ProviderError(
        `snowflake object id ${entry.sourceObjectId} is not DB.SCHEMA.TABLE/key`,
        'invalid',
        false,
      );
    const t = tableRef(p.names[0], p.names[1], p.names[2]);
    const keys = await this.keyColumns(t);
    const keyPart = p.rest.slice(1);
    let values: (string | number | boolean | null)[];
    if (keys.length === 1) values = [keyPart];
    else {
      try {
        values = JSON.parse(keyPart) as (string | number | boolean | null)[];
      } catch {
        values = [];
      }
      if (!Array.isArray(values) || values.length !== keys.length)
        throw new ProviderError(
          `snowflake object id ${entry.sourceObjectId} does not match key ${keys.join(', ')}`,
          'invalid',
          false,
        );
    }
    const what = `snowflake row ${entry.path} of ${t.display}`;
    const r = await this.query(
      `SELECT * FROM ${t.sql} WHERE ${keys.map((k) => `${quote(k)} = ?`).join(' AND ')} LIMIT 2`,
      values,
      what,
    );
    if (r.rows.length === 0) throw new ProviderError(`${what}: the row no longer exists`, 'not_found', false);
    this.checkColumns(t, r.columns, keys);
    const { bytes } = this.content({ columns: r.columns, values: r.rows[0] });
    return Readable.from(
      (function* () {
        for (let i = 0; i < bytes.length; i += STREAM_CHUNK) yield bytes.subarray(i, i + STREAM_CHUNK);
      })(),
    );
  }

  async test(sourcePath?: string): Promise<TestResult> {
    const details: Record<string, unknown> = {
      account: this.config.account,
      warehouse: this.config.warehouse,
    };
    try {
      if (!sourcePath) {
        await this.connection();
        return {
          success: true,
          message: `logged in to ${this.config.account} as ${this.auth.username}`,
          details,
        };
      }
      const t = this.table(sourcePath);
      details.table = t.display;
      const keys = await this.keyColumns(t);
      const r = await this.query(`SELECT * FROM ${t.sql} LIMIT 1`, [], `snowflake ${t.display}`);
      this.checkColumns(t, r.columns, keys);
      return {
        success: true,
        message: `table ${t.display} is readable (${r.columns.length} columns, key ${keys.join(', ')})${r.rows.length === 0 ? '; no rows yet' : ''}`,
        details: { ...details, key: keys },
      };
    } catch (err) {
      return failedTest(snowflakeError(err, 'snowflake test'), details);
    } finally {
      this.scheduleIdleClose();
    }
  }
}

export function createSnowflakeProvider(
  config: SnowflakeConfig,
  credentials: Record<string, unknown> | null,
): SnowflakeProvider {
  return new SnowflakeProvider(config, credentials);
}
