// Map step `text_extract`: the readable text of an object, by its type (sniffed from the content
// first, then declared, then the file name's extension): plain text as is; Markdown and HTML
// rendered to plain text; JSON as `path: value` lines of its leaves, in order; CSV/TSV as one line
// per row, cells tab-separated (header kept). Reads at most max_chars * 4 bytes; the text is cut at
// max_chars. Types without text (images, binaries) are skipped, not failed, so a collection of mixed
// files completes; content that does not parse as its declared JSON/CSV fails the document.
import type * as CsvParseSync from 'csv-parse/sync';
import type * as HtmlToText from 'html-to-text';
import type { HtmlToTextOptions } from 'html-to-text';
import { textExtractConfigSchema, type StepConfigInput } from '../../core/pipeline';
import { lazyModule } from '../../lib/lazy-module';
import { baseMime, chunks, sniffMime, throwIfAborted } from './sniff';
import { contentBlob, StepError, type MapStepInput } from './types';

// Loaded on first use (lib/lazy-module.ts): a worker that runs no text_extract step never loads them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const htmlToText = lazyModule(() => require('html-to-text') as typeof HtmlToText);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const csvParse = lazyModule(() => require('csv-parse/sync') as typeof CsvParseSync);

export type TextFormat = 'plain' | 'markdown' | 'json' | 'csv' | 'tsv' | 'html';

export type TextExtractOutput =
  | { text: string; format: TextFormat; chars: number; truncated: boolean; lines: number; note?: string }
  | { text: null; format: 'unsupported'; skipped: true; reason: string };

const BY_MIME: Record<string, TextFormat> = {
  'text/plain': 'plain',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'application/json': 'json',
  'text/json': 'json',
  'text/csv': 'csv',
  'application/csv': 'csv',
  'text/tab-separated-values': 'tsv',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
};
const BY_EXTENSION: Record<string, TextFormat> = {
  txt: 'plain',
  text: 'plain',
  log: 'plain',
  md: 'markdown',
  markdown: 'markdown',
  json: 'json',
  csv: 'csv',
  tsv: 'tsv',
  html: 'html',
  htm: 'html',
};
/** Declared types that are text without a format of their own: extracted as plain text. */
const TEXTUAL =
  /^(text\/.+|application\/(xml|.+\+xml|javascript|x-javascript|x-yaml|yaml|toml|x-sh|sql|graphql))$/;
const GENERIC = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown']);

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** The format to extract, or the reason there is no text. `head` is the content's first bytes. */
export async function formatOf(
  declaredMime: string,
  filename: string,
  head: Uint8Array,
): Promise<{ format: TextFormat } | { reason: string }> {
  const sniffed = await sniffMime(head);
  if (sniffed) {
    if (BY_MIME[sniffed]) return { format: BY_MIME[sniffed] };
    if (TEXTUAL.test(sniffed)) return { format: 'plain' };
    return { reason: `no text in ${sniffed} content` };
  }
  if (head.includes(0)) return { reason: 'binary content' };
  const declared = baseMime(declaredMime);
  if (BY_MIME[declared]) return { format: BY_MIME[declared] };
  if (declared.endsWith('+json')) return { format: 'json' };
  if (TEXTUAL.test(declared)) return { format: 'plain' };
  if (!GENERIC.has(declared)) return { reason: `unsupported type ${declared}` };
  const ext = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase() ?? '';
  if (BY_EXTENSION[ext]) return { format: BY_EXTENSION[ext] };
  return isUtf8(head) ? { format: 'plain' } : { reason: 'binary content' };
}

const HTML_OPTIONS: HtmlToTextOptions = {
  wordwrap: false,
  limits: { maxInputLength: 50_000_000, maxDepth: 500 },
  selectors: [
    { selector: 'a', options: { ignoreHref: true } },
    ...['img', 'script', 'style', 'noscript', 'template'].map((selector) => ({ selector, format: 'skip' })),
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((h) => ({ selector: h, options: { uppercase: false } })),
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
  ],
};

type Marked = typeof import('marked', { with: { 'resolution-mode': 'import' } });
let marked: Promise<Marked> | undefined;

async function markdownToText(md: string): Promise<string> {
  marked ??= import('marked');
  const html = (await marked).marked.parse(md, { async: false, gfm: true });
  return htmlToText().convert(html, HTML_OPTIONS);
}

/** `a.b[0].c: value` lines of the string, number and boolean leaves, in document order. */
export function jsonToText(value: unknown, maxChars: number): string {
  const lines: string[] = [];
  let chars = 0;
  const stack: [string, unknown][] = [['', value]];
  while (stack.length > 0 && chars - 1 <= maxChars) {
    // chars - 1 = the joined text's length: stop once past maxChars (the caller cuts and flags it)
    const [path, v] = stack.pop()!;
    if (v !== null && typeof v === 'object') {
      const entries: [string, unknown][] = Array.isArray(v)
        ? v.map((item, i) => [`${path}[${i}]`, item])
        : Object.entries(v).map(([k, item]) => [path ? `${path}.${k}` : k, item]);
      for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]); // pops in order
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      const line = path ? `${path}: ${v}` : String(v);
      lines.push(line);
      chars += line.length + 1;
    }
  }
  return lines.join('\n');
}

function csvToText(text: string, delimiter: string): string {
  const rows: string[][] = csvParse().parse(text, {
    delimiter,
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
  });
  return rows.map((row) => row.map((cell) => cell.replace(/[\t\r\n]+/g, ' ')).join('\t')).join('\n');
}

/** Converts text of a format; null when truncated input does not parse (the raw text is used). */
async function render(
  format: TextFormat,
  raw: string,
  truncated: boolean,
  maxChars: number,
): Promise<string | null> {
  try {
    switch (format) {
      case 'plain':
        return raw.replace(/\r\n?/g, '\n');
      case 'markdown':
        return (await markdownToText(raw)).trimEnd();
      case 'html':
        return htmlToText().convert(raw, HTML_OPTIONS).trimEnd();
      case 'json':
        return jsonToText(JSON.parse(raw), maxChars);
      case 'csv':
      case 'tsv':
        // A truncated file ends mid-row: parse the complete lines only.
        return csvToText(
          truncated ? raw.slice(0, raw.lastIndexOf('\n') + 1) : raw,
          format === 'csv' ? ',' : '\t',
        );
    }
  } catch (err) {
    if (truncated && (format === 'json' || format === 'csv' || format === 'tsv')) return null;
    const what = format === 'json' ? 'JSON' : format.toUpperCase();
    throw new StepError(`invalid ${what}: ${(err as Error).message}`, false);
  }
}

function countLines(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** Cuts at maxChars UTF-16 units without splitting a surrogate pair. */
function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const end = /[\uD800-\uDBFF]/.test(text[maxChars - 1]) ? maxChars - 1 : maxChars;
  return text.slice(0, end);
}

export async function run(
  config: StepConfigInput<'text_extract'>,
  input: MapStepInput,
  signal?: AbortSignal,
): Promise<TextExtractOutput> {
  const { max_chars } = textExtractConfigSchema.parse(config);
  throwIfAborted(signal);
  const blob = contentBlob(input.object);
  const stream = await input.openBlob();
  if (!stream)
    return { text: null, format: 'unsupported', skipped: true, reason: 'the object has no content blob' };

  const maxBytes = max_chars * 4;
  const parts: Buffer[] = [];
  let length = 0;
  let format: TextFormat | undefined;
  const decide = async (): Promise<string | null> => {
    const head = Buffer.concat(parts).subarray(0, 4100);
    const r = await formatOf(blob?.details.mime_type ?? '', blob?.details.filename ?? '', head);
    if ('reason' in r) return r.reason;
    format = r.format;
    return null;
  };
  for await (const chunk of chunks(stream, signal)) {
    parts.push(chunk);
    length += chunk.length;
    if (format === undefined && length >= 4100) {
      const reason = await decide();
      if (reason) return { text: null, format: 'unsupported', skipped: true, reason };
    }
    if (length > maxBytes) break; // chunks() destroys the stream
  }
  if (format === undefined) {
    const reason = await decide();
    if (reason) return { text: null, format: 'unsupported', skipped: true, reason };
  }

  const truncatedInput = length > maxBytes;
  const bytes = Buffer.concat(parts).subarray(0, maxBytes);
  // stream: true holds back a character cut in half at the end of a truncated read.
  const raw = new TextDecoder('utf-8').decode(bytes, { stream: truncatedInput });
  throwIfAborted(signal);
  const rendered = await render(format!, raw, truncatedInput, max_chars);
  const full = rendered ?? raw;
  const text = cut(full, max_chars);
  return {
    text,
    format: format!,
    chars: text.length,
    truncated: truncatedInput || text.length < full.length,
    lines: countLines(text),
    ...(rendered === null && { note: `input over ${maxBytes} bytes does not parse as ${format}: raw text` }),
  };
}
