// An in-process fake of the Snowflake REST endpoints that the Node.js driver (snowflake-sdk) speaks,
// holding tables in memory. It reproduces what the driver's own sources and wiremock mappings
// (snowflake-connector-nodejs: lib/services/sf.js, lib/connection/statement.js,
// lib/connection/result/*.js, wiremock/mappings/*.json) show of the documented protocol:
//
// - POST /session/v1/login-request?warehouse&databaseName&schemaName&roleName&requestId — body
//   `{data: {ACCOUNT_NAME, LOGIN_NAME, PASSWORD | AUTHENTICATOR: "SNOWFLAKE_JWT" + TOKEN, …}}`
//   (gzip-encoded). Answers HTTP 200 `{success, code, message, data}`; on success `data` holds
//   `token`, `masterToken`, validities, `sessionId`, `parameters`, `sessionInfo`. A wrong password
//   answers code 390100 ("Incorrect username or password was specified."), a bad key-pair JWT 390144
//   ("JWT token is invalid."). The JWT is checked as Snowflake documents for key-pair
//   authentication: RS256 signature by the user's registered public key, `iss` =
//   `ACCOUNT.USER.SHA256:<base64 sha256 of the public key DER>`, `sub` = `ACCOUNT.USER`, not expired.
//   A warehouse that does not exist still logs in (as Snowflake does); queries then fail with 000606.
// - POST /queries/v1/query-request?requestId — `Authorization: Snowflake Token="<session token>"`,
//   body `{sqlText, bindings?: {"1": {type, value}}, parameters?, …}`. Answers the JSON result
//   format (`queryResultFormat: "json"`): `rowtype` (name, type, precision, scale, length, …) and
//   `rowset` (every value a string, or null: FIXED/REAL as decimal text, BOOLEAN "1"/"0", BINARY
//   upper-case hex, DATE days since the epoch, TIMESTAMP_LTZ/NTZ "<epoch seconds>.<9 digits>",
//   VARIANT JSON text), with the session `parameters` the driver's decoders need (BINARY_OUTPUT_FORMAT,
//   TIMEZONE, the output formats). Every result is returned inline (`rowset`); Snowflake moves large
//   results into chunk files the driver downloads, which this fake does not do.
//   SQL errors are HTTP 200 `{success: false, code, message, data: {errorCode, sqlState, queryId, …}}`:
//   002003 / 42S02 for a missing table, 000904 / 42000 for an unknown column, 001003 / 42000 for a
//   syntax error, 000606 / 57P03 without a warehouse. A closed or unknown session answers 390111.
// - POST /session/token-request (RENEW with the master token), POST /session/heartbeat,
//   POST /session?delete=true (close), POST /queries/v1/abort-request (cancel; statements here
//   finish at once, so there is nothing to stop), POST /telemetry/send: answered as Snowflake does.
//
// SQL: it parses (honestly, with a tokenizer and a recursive-descent parser, never by matching whole
// strings) exactly the statement shapes the `snowflake` provider sends, and rejects anything else
// with 001003:
//   SELECT * FROM <db>.<schema>.<table> [WHERE <cond>] [ORDER BY <col> [ASC|DESC] [NULLS FIRST|LAST], …]
//     [LIMIT <n>]
//   SHOW PRIMARY KEYS IN TABLE <db>.<schema>.<table>
// where <cond> is built of AND / OR / NOT / parentheses over `<col> <op> <operand>` (op one of
// = <> != < <= > >=) and `<col> IS [NOT] NULL`, operands being a column, a `?` bind, a 'string' or
// a number. Identifiers follow Snowflake's rules (unquoted ones fold to upper case, "quoted" ones
// are exact with "" for a quote); names of one or two parts resolve against the session's database
// and schema. Comparisons use three-valued logic (NULL is unknown); a bind is cast to the column's
// type (text to number or timestamp) as Snowflake's implicit casts do; text compares by UTF-8 bytes.
//
// Throttling: `throttle(status)` makes every endpoint answer that HTTP status (429 / 503), as
// Snowflake's front end does when overloaded.
import { createHash, createPublicKey, createVerify, randomUUID, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type ColumnType =
  'text' | 'fixed' | 'real' | 'boolean' | 'binary' | 'date' | 'timestamp_ltz' | 'timestamp_ntz' | 'variant';

export interface FakeColumn {
  /** Exact (case-sensitive) name, as Snowflake stores it: `PATH`, or `status` for a quoted one. */
  name: string;
  type: ColumnType;
}

/**
 * Values as the fake stores them: text as string, numbers as number, BINARY as Buffer, DATE and
 * TIMESTAMP as Date (or bigint nanoseconds since the epoch), VARIANT as any JSON value.
 */
export type FakeValue = string | number | boolean | Buffer | Date | bigint | null | object;
export type FakeRow = Record<string, FakeValue>;

interface Table {
  database: string;
  schema: string;
  name: string;
  columns: FakeColumn[];
  primaryKey: string[];
  rows: FakeRow[];
}

interface User {
  password?: string;
  publicKey?: KeyObject;
}

interface Session {
  id: number;
  user: string;
  token: string;
  masterToken: string;
  database: string | null;
  schema: string | null;
  warehouse: string | null;
  role: string;
}

export interface QueryLogEntry {
  sqlText: string;
  bindings: { type: string; value: unknown }[];
  parameters: Record<string, unknown>;
}

class SqlError extends Error {
  constructor(
    readonly code: string,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

// --- SQL: tokens, parser, evaluation ----------------------------------------------------------------

type Token =
  | { t: 'ident'; v: string; quoted: boolean }
  | { t: 'str'; v: string }
  | { t: 'num'; v: string }
  | { t: 'op'; v: string }
  | { t: 'bind' };

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw syntax('unterminated quoted identifier');
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += sql[i++];
      }
      if (v === '') throw syntax('empty quoted identifier');
      out.push({ t: 'ident', v, quoted: true });
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw syntax('unterminated string literal');
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (sql[i] === '\\') {
          v += sql[i + 1] ?? '';
          i += 2;
          continue;
        }
        v += sql[i++];
      }
      out.push({ t: 'str', v });
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))!;
      out.push({ t: 'ident', v: m[0], quoted: false });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(sql.slice(i))!;
      out.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if (c === '?') {
      out.push({ t: 'bind' });
      i++;
    } else {
      const two = sql.slice(i, i + 2);
      if (['<=', '>=', '<>', '!='].includes(two)) {
        out.push({ t: 'op', v: two });
        i += 2;
      } else if ('=<>(),.*;'.includes(c)) {
        out.push({ t: 'op', v: c });
        i++;
      } else throw syntax(`unexpected '${c}'`);
    }
  }
  return out;
}

function syntax(detail: string): SqlError {
  return new SqlError('001003', '42000', `SQL compilation error:\nsyntax error: ${detail}.`);
}

type Operand = { k: 'col'; name: string } | { k: 'bind'; n: number } | { k: 'lit'; v: string | number };
type Cond =
  | { k: 'and' | 'or'; a: Cond; b: Cond }
  | { k: 'not'; a: Cond }
  | { k: 'cmp'; op: string; l: Operand; r: Operand }
  | { k: 'null'; col: Operand; not: boolean };
interface OrderItem {
  col: string;
  desc: boolean;
  nullsFirst: boolean;
}
type Statement =
  | { k: 'select'; table: string[]; where: Cond | null; order: OrderItem[]; limit: number | null }
  | { k: 'show_pk'; table: string[] };

class Parser {
  private i = 0;
  private binds = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token | undefined {
    return this.toks[this.i];
  }
  private kw(word: string): boolean {
    const t = this.peek();
    if (t?.t === 'ident' && !t.quoted && t.v.toUpperCase() === word) {
      this.i++;
      return true;
    }
    return false;
  }
  private expectKw(word: string): void {
    if (!this.kw(word)) throw syntax(`expected ${word}`);
  }
  private op(v: string): boolean {
    const t = this.peek();
    if (t?.t === 'op' && t.v === v) {
      this.i++;
      return true;
    }
    return false;
  }
  private ident(): string {
    const t = this.peek();
    if (t?.t !== 'ident') throw syntax('expected an identifier');
    this.i++;
    return t.quoted ? t.v : t.v.toUpperCase();
  }
  private tableName(): string[] {
    const parts = [this.ident()];
    while (this.op('.')) parts.push(this.ident());
    if (parts.length > 3) throw syntax('a table name has at most three parts');
    return parts;
  }

  statement(): Statement {
    let st: Statement;
    if (this.kw('SHOW')) {
      this.expectKw('PRIMARY');
      this.expectKw('KEYS');
      this.expectKw('IN');
      this.expectKw('TABLE');
      st = { k: 'show_pk', table: this.tableName() };
    } else {
      this.expectKw('SELECT');
      if (!this.op('*')) throw syntax('only SELECT * is supported by this fake');
      this.expectKw('FROM');
      const table = this.tableName();
      const where = this.kw('WHERE') ? this.or() : null;
      const order: OrderItem[] = [];
      if (this.kw('ORDER')) {
        this.expectKw('BY');
        do {
          const col = this.ident();
          const desc = this.kw('DESC') ? true : (this.kw('ASC'), false);
          let nullsFirst = desc; // Snowflake: NULLS LAST for ASC, NULLS FIRST for DESC
          if (this.kw('NULLS')) nullsFirst = this.kw('FIRST') ? true : (this.expectKw('LAST'), false);
          order.push({ col, desc, nullsFirst });
        } while (this.op(','));
      }
      let limit: number | null = null;
      if (this.kw('LIMIT')) {
        const t = this.peek();
        if (t?.t !== 'num' || t.v.includes('.')) throw syntax('LIMIT takes an integer');
        this.i++;
        limit = Number(t.v);
      }
      st = { k: 'select', table, where, order, limit };
    }
    this.op(';');
    if (this.i !== this.toks.length) throw syntax('unexpected text after the statement');
    return st;
  }

  private or(): Cond {
    let a = this.and();
    while (this.kw('OR')) a = { k: 'or', a, b: this.and() };
    return a;
  }
  private and(): Cond {
    let a = this.not();
    while (this.kw('AND')) a = { k: 'and', a, b: this.not() };
    return a;
  }
  private not(): Cond {
    if (this.kw('NOT')) return { k: 'not', a: this.not() };
    if (this.op('(')) {
      const c = this.or();
      if (!this.op(')')) throw syntax("expected ')'");
      return c;
    }
    const l = this.operand();
    if (this.kw('IS')) {
      const not = this.kw('NOT');
      this.expectKw('NULL');
      return { k: 'null', col: l, not };
    }
    const t = this.peek();
    if (t?.t !== 'op' || !['=', '<>', '!=', '<', '<=', '>', '>='].includes(t.v))
      throw syntax('expected a comparison');
    this.i++;
    return { k: 'cmp', op: t.v === '!=' ? '<>' : t.v, l, r: this.operand() };
  }
  private operand(): Operand {
    const t = this.peek();
    if (!t) throw syntax('unexpected end of statement');
    if (t.t === 'bind') {
      this.i++;
      return { k: 'bind', n: ++this.binds };
    }
    if (t.t === 'str') {
      this.i++;
      return { k: 'lit', v: t.v };
    }
    if (t.t === 'num') {
      this.i++;
      return { k: 'lit', v: Number(t.v) };
    }
    return { k: 'col', name: this.ident() };
  }
}

/** Nanoseconds since the epoch from an ISO 8601 text (up to 9 fractional digits, Z or ±hh:mm). */
function parseTimestamp(text: string): bigint | null {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(
      text.trim(),
    );
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m;
  let ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0') || '0');
}

function toNanos(v: FakeValue): bigint {
  if (typeof v === 'bigint') return v;
  if (v instanceof Date) return BigInt(v.getTime()) * 1_000_000n;
  throw new Error(`not a timestamp: ${text(v)}`);
}

type Scalar = string | number | boolean | bigint | Buffer | null;

/** A stored value as a comparable scalar of its column's type. */
function scalarOf(col: FakeColumn, v: FakeValue): Scalar {
  if (v === null || v === undefined) return null;
  switch (col.type) {
    case 'date':
    case 'timestamp_ltz':
    case 'timestamp_ntz':
      return toNanos(v);
    case 'binary':
      return v as Buffer;
    case 'variant':
      return JSON.stringify(v);
    default:
      return v as string | number | boolean;
  }
}

/** A bind or literal cast to the type of the column it is compared with (Snowflake's implicit cast). */
function castTo(col: FakeColumn | null, v: string | number | boolean | null): Scalar {
  if (v === null || !col) return v;
  switch (col.type) {
    case 'fixed':
    case 'real': {
      const n = Number(v);
      if (typeof v === 'string' && (v.trim() === '' || Number.isNaN(n)))
        throw new SqlError('100038', '22018', `Numeric value '${v}' is not recognized`);
      return n;
    }
    case 'date':
    case 'timestamp_ltz':
    case 'timestamp_ntz': {
      const n = parseTimestamp(String(v));
      if (n === null) throw new SqlError('100035', '22007', `Timestamp '${String(v)}' is not recognized`);
      return n;
    }
    case 'boolean':
      return v === true || v === 'true' || v === 'TRUE' || v === '1' || v === 1;
    case 'binary':
      return Buffer.from(String(v), 'hex');
    default:
      return String(v);
  }
}

function compare(a: Scalar, b: Scalar): number {
  if (typeof a === 'string' && typeof b === 'string')
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

// --- encoding results as the JSON result format ------------------------------------------------------

function rowtypeOf(t: Table, c: FakeColumn) {
  const base = {
    name: c.name,
    database: t.database,
    schema: t.schema,
    table: t.name,
    nullable: !t.primaryKey.includes(c.name),
    collation: null,
    precision: null as number | null,
    scale: null as number | null,
    length: null as number | null,
    byteLength: null as number | null,
    type: c.type,
  };
  switch (c.type) {
    case 'fixed':
      return { ...base, precision: 38, scale: 0 };
    case 'text':
      return { ...base, length: 16777216, byteLength: 16777216 };
    case 'binary':
      return { ...base, length: 8388608, byteLength: 8388608 };
    case 'timestamp_ltz':
    case 'timestamp_ntz':
      return { ...base, precision: 0, scale: 9 };
    default:
      return base;
  }
}

function encodeValue(c: FakeColumn, v: FakeValue): string | null {
  if (v === null || v === undefined) return null;
  switch (c.type) {
    case 'boolean':
      return v ? '1' : '0';
    case 'binary':
      return (v as Buffer).toString('hex').toUpperCase();
    case 'date':
      return String(toNanos(v) / 86_400_000_000_000n);
    case 'timestamp_ltz':
    case 'timestamp_ntz': {
      const n = toNanos(v);
      const secs = n / 1_000_000_000n;
      const frac = n % 1_000_000_000n;
      return `${secs}.${String(frac).padStart(9, '0')}`;
    }
    case 'variant':
      return JSON.stringify(v);
    default:
      return text(v);
  }
}

/** Session parameters as Snowflake returns them with every result (the driver's decoders read them). */
const RESULT_PARAMETERS = [
  { name: 'TIMESTAMP_OUTPUT_FORMAT', value: 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM' },
  { name: 'TIME_OUTPUT_FORMAT', value: 'HH24:MI:SS' },
  { name: 'TIMESTAMP_TZ_OUTPUT_FORMAT', value: '' },
  { name: 'TIMESTAMP_NTZ_OUTPUT_FORMAT', value: 'YYYY-MM-DD HH24:MI:SS.FF3' },
  { name: 'TIMESTAMP_LTZ_OUTPUT_FORMAT', value: '' },
  { name: 'DATE_OUTPUT_FORMAT', value: 'YYYY-MM-DD' },
  { name: 'BINARY_OUTPUT_FORMAT', value: 'HEX' },
  { name: 'TIMEZONE', value: 'America/Los_Angeles' },
  { name: 'CLIENT_RESULT_PREFETCH_SLOTS', value: 2 },
  { name: 'CLIENT_RESULT_PREFETCH_THREADS', value: 1 },
  { name: 'CLIENT_SESSION_KEEP_ALIVE', value: false },
  { name: 'CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY', value: 3600 },
  { name: 'CLIENT_USE_V1_QUERY_API', value: true },
  { name: 'QUERY_CONTEXT_CACHE_SIZE', value: 5 },
];

// --- the server ----------------------------------------------------------------------------------------

export class FakeSnowflake {
  readonly account: string;
  private server: http.Server | null = null;
  private readonly users = new Map<string, User>();
  private readonly warehouses = new Set<string>();
  private readonly tables = new Map<string, Table>();
  private readonly sessions = new Map<string, Session>();
  private readonly masterTokens = new Map<string, Session>();
  private nextSessionId = 1_172_562_260_000;
  private throttleStatus: number | null = null;
  /** Every statement received, in order (tests assert on the SQL the provider sends). */
  readonly queries: QueryLogEntry[] = [];
  /** Counters of protocol events. */
  readonly stats = { logins: 0, failedLogins: 0, closedSessions: 0 };

  constructor(account = 'TESTACCOUNT') {
    this.account = account.toUpperCase();
  }

  /** `http://127.0.0.1:<port>`, the driver's `accessUrl`. */
  get url(): string {
    if (!this.server) throw new Error('fake snowflake: not started');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(port = 0): Promise<this> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }

  addUser(name: string, auth: { password?: string; publicKeyPem?: string }): void {
    this.users.set(name.toUpperCase(), {
      password: auth.password,
      publicKey: auth.publicKeyPem ? createPublicKey(auth.publicKeyPem) : undefined,
    });
  }

  addWarehouse(name: string): void {
    this.warehouses.add(name.toUpperCase());
  }

  /** Every endpoint answers `status` (429, 503) until called with null. */
  throttle(status: number | null): void {
    this.throttleStatus = status;
  }

  private key(db: string, schema: string, table: string): string {
    return JSON.stringify([db, schema, table]);
  }

  createTable(db: string, schema: string, name: string, columns: FakeColumn[], primaryKey: string[]): void {
    this.tables.set(this.key(db, schema, name), {
      database: db,
      schema,
      name,
      columns: [...columns],
      primaryKey,
      rows: [],
    });
  }

  dropTable(db: string, schema: string, name: string): void {
    this.tables.delete(this.key(db, schema, name));
  }

  private table(db: string, schema: string, name: string): Table {
    const t = this.tables.get(this.key(db, schema, name));
    if (!t) throw new Error(`fake snowflake: no table ${db}.${schema}.${name}`);
    return t;
  }

  /** Adds a nullable column (ALTER TABLE … ADD COLUMN) unless the table has it. */
  addColumn(db: string, schema: string, table: string, column: FakeColumn): void {
    const t = this.table(db, schema, table);
    if (!t.columns.some((c) => c.name === column.name)) t.columns.push(column);
  }

  /** Inserts the row, or replaces the row with the same primary key (MERGE). */
  upsert(db: string, schema: string, table: string, row: FakeRow): void {
    const t = this.table(db, schema, table);
    for (const k of Object.keys(row))
      if (!t.columns.some((c) => c.name === k)) throw new Error(`fake snowflake: no column ${k}`);
    const same = (r: FakeRow) => t.primaryKey.every((k) => r[k] === row[k]);
    const full: FakeRow = Object.fromEntries(t.columns.map((c) => [c.name, row[c.name] ?? null]));
    // A table without a declared key (Snowflake does not enforce keys anyway) only ever appends.
    const i = t.primaryKey.length === 0 ? -1 : t.rows.findIndex(same);
    if (i === -1) t.rows.push(full);
    else t.rows[i] = full;
  }

  /** Deletes the rows whose columns equal every value of `match`. */
  delete(db: string, schema: string, table: string, match: FakeRow): number {
    const t = this.table(db, schema, table);
    const before = t.rows.length;
    t.rows = t.rows.filter((r) => !Object.keys(match).every((k) => r[k] === match[k]));
    return before - t.rows.length;
  }

  // --- HTTP -----------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let raw = Buffer.concat(chunks);
    if (/gzip/i.test(String(req.headers['content-encoding'] ?? '')) && raw.length > 0) raw = gunzipSync(raw);
    const url = new URL(req.url ?? '/', 'http://fake');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (this.throttleStatus !== null) {
      const status = this.throttleStatus;
      res
        .writeHead(status, { 'content-type': 'text/html', ...(status === 429 ? { 'retry-after': '1' } : {}) })
        .end(status === 429 ? 'Too Many Requests' : 'Service Unavailable');
      return;
    }
    let body: any = {};
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        json(400, { success: false, code: '390400', message: 'Invalid JSON body', data: null });
        return;
      }
    }
    const fail = (code: string, message: string, data: Record<string, unknown> | null = null) =>
      json(200, { success: false, code, message, data, headers: null });

    if (req.method === 'POST' && url.pathname === '/session/v1/login-request')
      return json(200, this.login(url, body));

    if (req.method === 'POST' && url.pathname === '/session/token-request') {
      const session = this.masterTokens.get(tokenOf(req));
      if (!session || body.requestType !== 'RENEW')
        return fail('390114', 'Authentication token has expired.');
      this.sessions.delete(session.token);
      session.token = `session-${randomUUID()}`;
      this.sessions.set(session.token, session);
      return json(200, {
        success: true,
        code: null,
        message: null,
        data: {
          sessionToken: session.token,
          validityInSecondsST: 3600,
          masterToken: session.masterToken,
          validityInSecondsMT: 14400,
          sessionId: session.id,
        },
      });
    }

    const session = this.sessions.get(tokenOf(req));
    if (!session)
      return fail('390111', 'Session no longer exists.  New login required to access the service.');

    if (req.method === 'POST' && url.pathname === '/session' && url.searchParams.get('delete') === 'true') {
      this.sessions.delete(session.token);
      this.masterTokens.delete(session.masterToken);
      this.stats.closedSessions++;
      return json(200, { success: true, code: null, message: null, data: null });
    }
    if (
      req.method === 'POST' &&
      ['/session/heartbeat', '/telemetry/send', '/queries/v1/abort-request'].includes(url.pathname)
    )
      return json(200, { success: true, code: null, message: null, data: null });

    if (req.method === 'POST' && url.pathname === '/queries/v1/query-request') {
      const queryId = randomUUID();
      const bindings = Object.entries(
        (body.bindings ?? {}) as Record<string, { type: string; value: unknown }>,
      )
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([, v]) => v);
      this.queries.push({
        sqlText: String(body.sqlText ?? ''),
        bindings,
        parameters: (body.parameters ?? {}) as Record<string, unknown>,
      });
      try {
        const result = this.run(session, String(body.sqlText ?? ''), bindings);
        return json(200, {
          success: true,
          code: null,
          message: null,
          data: {
            parameters: RESULT_PARAMETERS,
            rowtype: result.rowtype,
            rowset: result.rowset,
            total: result.rowset.length,
            returned: result.rowset.length,
            queryId,
            databaseProvider: null,
            finalDatabaseName: session.database,
            finalSchemaName: session.schema,
            finalWarehouseName: session.warehouse,
            finalRoleName: session.role,
            numberOfBinds: bindings.length,
            arrayBindSupported: false,
            statementTypeId: result.statementTypeId,
            version: 1,
            sendResultTime: Date.now(),
            queryResultFormat: 'json',
          },
        });
      } catch (err) {
        if (!(err instanceof SqlError)) throw err;
        return fail(err.code, err.message, {
          internalError: false,
          errorCode: err.code,
          age: 0,
          sqlState: err.sqlState,
          queryId,
          line: -1,
          pos: -1,
          type: 'COMPILATION',
        });
      }
    }
    return json(404, { success: false, code: '390404', message: `no endpoint ${url.pathname}`, data: null });
  }

  private login(url: URL, body: any) {
    const data = (body?.data ?? {}) as Record<string, unknown>;
    const loginName = text(data.LOGIN_NAME).toUpperCase();
    const account = text(data.ACCOUNT_NAME).toUpperCase();
    const user = account === this.account ? this.users.get(loginName) : undefined;
    const refuse = (code: string, message: string) => {
      this.stats.failedLogins++;
      return {
        success: false,
        code,
        message,
        data: { nextAction: 'RETRY_LOGIN', authnMethod: data.AUTHENTICATOR ?? 'USERNAME_PASSWORD' },
        headers: null,
      };
    };
    if (text(data.AUTHENTICATOR).toUpperCase() === 'SNOWFLAKE_JWT') {
      if (!user?.publicKey || !this.jwtValid(text(data.TOKEN), user.publicKey, account, loginName))
        return refuse('390144', `JWT token is invalid. [${randomUUID()}]`);
    } else if (!user || user.password === undefined || data.PASSWORD !== user.password) {
      return refuse('390100', 'Incorrect username or password was specified.');
    }
    this.stats.logins++;
    const param = (n: string) => url.searchParams.get(n);
    const warehouse = param('warehouse');
    const session: Session = {
      id: this.nextSessionId++,
      user: loginName,
      token: `session-${randomUUID()}`,
      masterToken: `master-${randomUUID()}`,
      database: param('databaseName') ? identifier(param('databaseName')!) : null,
      schema: param('schemaName') ? identifier(param('schemaName')!) : null,
      warehouse: warehouse && this.warehouses.has(identifier(warehouse)) ? identifier(warehouse) : null,
      role: param('roleName') ? identifier(param('roleName')!) : 'PUBLIC',
    };
    this.sessions.set(session.token, session);
    this.masterTokens.set(session.masterToken, session);
    return {
      success: true,
      code: null,
      message: null,
      data: {
        masterToken: session.masterToken,
        token: session.token,
        validityInSeconds: 3600,
        masterValidityInSeconds: 14400,
        displayUserName: loginName,
        serverVersion: '9.1.0',
        firstLogin: false,
        remMeToken: null,
        remMeValidityInSeconds: 0,
        healthCheckInterval: 45,
        newClientForUpgrade: null,
        sessionId: session.id,
        parameters: RESULT_PARAMETERS,
        sessionInfo: {
          databaseName: session.database,
          schemaName: session.schema,
          warehouseName: session.warehouse,
          roleName: session.role,
        },
        idToken: null,
        idTokenValidityInSeconds: 0,
        responseData: null,
        mfaToken: null,
        mfaTokenValidityInSeconds: 0,
      },
    };
  }

  /** RS256 signature by the user's key, iss/sub naming the account, user and key fingerprint, not expired. */
  private jwtValid(token: string, key: KeyObject, account: string, user: string): boolean {
    const parts = token.split('.');
    if (parts.length !== 3) return false;
    try {
      const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
      if (header.alg !== 'RS256') return false;
      const ok = createVerify('RSA-SHA256')
        .update(`${parts[0]}.${parts[1]}`)
        .verify(key, Buffer.from(parts[2], 'base64url'));
      if (!ok) return false;
      const fp = `SHA256:${createHash('sha256')
        .update(key.export({ format: 'der', type: 'spki' }))
        .digest('base64')}`;
      if (claims.iss !== `${account}.${user}.${fp}` || claims.sub !== `${account}.${user}`) return false;
      // exp is in seconds per RFC 7519; the Node.js driver sends milliseconds, which Snowflake accepts.
      const exp = Number(claims.exp);
      const expMs = exp > 1e12 ? exp : exp * 1000;
      return Number.isFinite(expMs) && expMs > Date.now();
    } catch {
      return false;
    }
  }

  // --- statements --------------------------------------------------------------------------------------

  private resolve(session: Session, parts: string[]): Table {
    const [db, schema, name] =
      parts.length === 3
        ? parts
        : parts.length === 2
          ? [session.database, ...parts]
          : [session.database, session.schema, parts[0]];
    const shown = parts.join('.');
    if (!db || !schema)
      throw new SqlError(
        '090105',
        '22000',
        "Cannot perform SELECT. This session does not have a current database. Call 'USE DATABASE', or use a qualified name.",
      );
    const t = this.tables.get(this.key(db, schema, name));
    if (!t)
      throw new SqlError(
        '002003',
        '42S02',
        `SQL compilation error:\nObject '${shown}' does not exist or not authorized.`,
      );
    return t;
  }

  private run(session: Session, sql: string, bindings: { type: string; value: unknown }[]) {
    const st = new Parser(tokenize(sql)).statement();
    const table = this.resolve(session, st.table);
    if (st.k === 'show_pk') {
      const cols = [
        'created_on',
        'database_name',
        'schema_name',
        'table_name',
        'column_name',
        'key_sequence',
        'constraint_name',
        'rely',
        'comment',
      ];
      return {
        statementTypeId: 0x3000 + 0x100,
        rowtype: cols.map((name) => ({
          name,
          database: '',
          schema: '',
          table: '',
          nullable: true,
          collation: null,
          precision: name === 'key_sequence' ? 38 : null,
          scale: name === 'key_sequence' ? 0 : name === 'created_on' ? 9 : null,
          length: null,
          byteLength: null,
          type: name === 'key_sequence' ? 'fixed' : name === 'created_on' ? 'timestamp_ltz' : 'text',
        })),
        rowset: table.primaryKey.map((col, i) => [
          '1700000000.000000000',
          table.database,
          table.schema,
          table.name,
          col,
          String(i + 1),
          `SYS_CONSTRAINT_${table.name}`,
          'false',
          null,
        ]),
      };
    }
    if (!session.warehouse)
      throw new SqlError(
        '000606',
        '57P03',
        "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command.\n",
      );
    const colOf = (name: string) => {
      const c = table.columns.find((x) => x.name === name);
      if (!c)
        throw new SqlError(
          '000904',
          '42000',
          `SQL compilation error: error line 1 at position 0\ninvalid identifier '"${name}"'`,
        );
      return c;
    };
    const bindValue = (n: number): string | number | boolean | null => {
      const b = bindings[n - 1];
      if (!b)
        throw new SqlError(
          '002049',
          '42601',
          `SQL compilation error: error line 1 at position 0\nBind variable ? not set.`,
        );
      if (b.value === null) return null;
      if (b.type === 'FIXED' || b.type === 'REAL') return Number(b.value);
      if (b.type === 'BOOLEAN') return b.value === 'true' || b.value === true;
      return text(b.value);
    };
    // Compile-time checks, as Snowflake does before running anything: every column exists.
    const check = (c: Cond | null): void => {
      if (!c) return;
      switch (c.k) {
        case 'and':
        case 'or':
          check(c.a);
          check(c.b);
          break;
        case 'not':
          check(c.a);
          break;
        case 'null':
          if (c.col.k === 'col') colOf(c.col.name);
          break;
        case 'cmp':
          for (const o of [c.l, c.r]) if (o.k === 'col') colOf(o.name);
      }
    };
    check(st.where);
    st.order.forEach((o) => colOf(o.col));

    const value = (row: FakeRow, o: Operand, other: Operand): Scalar => {
      if (o.k === 'col') return scalarOf(colOf(o.name), row[o.name]);
      const against = other.k === 'col' ? colOf(other.name) : null;
      return castTo(against, o.k === 'bind' ? bindValue(o.n) : o.v);
    };
    const evaluate = (row: FakeRow, c: Cond): boolean | null => {
      switch (c.k) {
        case 'and': {
          const a = evaluate(row, c.a);
          const b = evaluate(row, c.b);
          return a === false || b === false ? false : a === null || b === null ? null : true;
        }
        case 'or': {
          const a = evaluate(row, c.a);
          const b = evaluate(row, c.b);
          return a === true || b === true ? true : a === null || b === null ? null : false;
        }
        case 'not': {
          const a = evaluate(row, c.a);
          return a === null ? null : !a;
        }
        case 'null': {
          const isNull = value(row, c.col, c.col) === null;
          return c.not ? !isNull : isNull;
        }
        case 'cmp': {
          const l = value(row, c.l, c.r);
          const r = value(row, c.r, c.l);
          if (l === null || r === null) return null;
          const d = compare(l, r);
          return { '=': d === 0, '<>': d !== 0, '<': d < 0, '<=': d <= 0, '>': d > 0, '>=': d >= 0 }[c.op]!;
        }
      }
    };
    let rows = table.rows.filter((r) => (st.where ? evaluate(r, st.where) === true : true));
    if (st.order.length > 0)
      rows = [...rows].sort((a, b) => {
        for (const o of st.order) {
          const c = colOf(o.col);
          const x = scalarOf(c, a[o.col]);
          const y = scalarOf(c, b[o.col]);
          if (x === null || y === null) {
            if (x === y) continue;
            return (x === null) === o.nullsFirst ? -1 : 1;
          }
          const d = compare(x, y);
          if (d !== 0) return o.desc ? -d : d;
        }
        return 0;
      });
    if (st.limit !== null) rows = rows.slice(0, st.limit);
    return {
      statementTypeId: 0x1000,
      rowtype: table.columns.map((c) => rowtypeOf(table, c)),
      rowset: rows.map((r) => table.columns.map((c) => encodeValue(c, r[c.name]))),
    };
  }
}

/** A scalar as text ('' for anything else). */
function text(v: unknown): string {
  return typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
      ? String(v)
      : '';
}

function tokenOf(req: http.IncomingMessage): string {
  const m = /^Snowflake Token="([^"]*)"$/.exec(String(req.headers.authorization ?? ''));
  return m ? m[1] : '';
}

/** A login parameter (warehouse, databaseName, …) as Snowflake resolves it: unquoted upper-cased. */
function identifier(s: string): string {
  return /^".*"$/.test(s) ? s.slice(1, -1).replace(/""/g, '"') : s.toUpperCase();
}
