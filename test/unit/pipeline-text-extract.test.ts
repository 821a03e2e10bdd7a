// Unit tests for the text_extract step (pipeline/steps/text_extract.ts) on real content: plain text,
// Markdown, nested JSON, CSV with quoted commas, TSV, HTML; images and binaries skipped; bad JSON/CSV
// failing the document; truncation by characters and by the bounded read of an endless stream.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { run, jsonToText } from '../../pipeline/steps/text_extract';
import { steps, StepError, type MapStep } from '../../pipeline/steps';
import { gif, jpeg, mapInput, png } from './pipeline-fixtures';

const extract = (filename: string, mime: string | undefined, content: string | Buffer, max_chars?: number) =>
  run(max_chars ? { max_chars } : {}, mapInput({ filename, mime, content }));

async function assertStepError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StepError, `expected a StepError, got ${String(err)}`);
    assert.equal(err.retryable, false);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('pipeline step text_extract: formats', () => {
  it('returns plain text as is, with CRLF line ends normalised', async () => {
    const out = await extract('notes.txt', 'text/plain', 'first line\r\nsecond — ünïcödé ✓\r\nthird\n');
    assert.deepEqual(out, {
      text: 'first line\nsecond — ünïcödé ✓\nthird\n',
      format: 'plain',
      chars: 36,
      truncated: false,
      lines: 3,
    });
  });

  it('renders Markdown to plain text', async () => {
    const md = [
      '# Title',
      '',
      'Some **bold** and _italic_ text with a [link](https://example.com/secret-path).',
      '',
      '- one',
      '- two',
      '',
      '```js',
      'const a = 1;',
      '```',
      '',
      '| h1 | h2 |',
      '|----|----|',
      '| a  | b  |',
      '',
      '![diagram](pic.png)',
    ].join('\n');
    const out = await extract('README.md', 'text/markdown', md);
    assert.equal(out.format, 'markdown');
    assert.ok(out.text !== null);
    const lines = out.text.split('\n').map((l) => l.trim());
    assert.equal(lines[0], 'Title');
    assert.ok(lines.includes('Some bold and italic text with a link.'), out.text);
    assert.ok(lines.includes('* one') && lines.includes('* two'), out.text);
    assert.ok(lines.includes('const a = 1;'), out.text);
    assert.ok(lines.some((l) => /^h1\s+h2$/.test(l)) && lines.some((l) => /^a\s+b$/.test(l)), out.text);
    for (const markup of ['#', '**', '_italic_', '](', 'https://', '```', 'pic.png', '|'])
      assert.ok(!out.text.includes(markup), `markup ${markup} left in ${JSON.stringify(out.text)}`);
    assert.equal(out.lines, out.text.split('\n').length);
  });

  it('flattens nested JSON into path: value lines, in document order', async () => {
    const doc = {
      title: 'Report',
      author: { name: 'Ann', tags: ['x', 'y'] },
      items: [
        { id: 1, ok: true, nested: { deep: [[3.5]] } },
        { id: 2, ok: false, skipped: null },
      ],
      empty: {},
    };
    const out = await extract('data.json', 'application/json', JSON.stringify(doc, null, 2));
    assert.deepEqual(out, {
      text: [
        'title: Report',
        'author.name: Ann',
        'author.tags[0]: x',
        'author.tags[1]: y',
        'items[0].id: 1',
        'items[0].ok: true',
        'items[0].nested.deep[0][0]: 3.5',
        'items[1].id: 2',
        'items[1].ok: false',
      ].join('\n'),
      format: 'json',
      chars: 165,
      truncated: false,
      lines: 9,
    });
  });

  it('flattens a top-level scalar and deeply nested arrays without recursion', () => {
    assert.equal(jsonToText('just a string', 100), 'just a string');
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(jsonToText(deep, 10_000_000), `${'[0]'.repeat(100_000)}: bottom`);
  });

  it('knows JSON by its extension or a +json type when the declared type is generic', async () => {
    const byExt = await extract('data.json', 'application/octet-stream', '{"a":{"b":"c"}}');
    assert.equal(byExt.text, 'a.b: c');
    const ld = await extract('x', 'application/ld+json', '{"@id":"u1"}');
    assert.equal(ld.text, '@id: u1');
  });

  it('writes CSV rows as lines of tab-separated cells, keeping the header and quoted commas', async () => {
    const csv =
      '\uFEFFname,city,note\r\n"Doe, John",Paris,"said ""hi"""\r\nAnn,"Rome, IT",\r\n"multi\nline",x,y\r\n';
    const out = await extract('people.csv', 'text/csv', csv);
    assert.deepEqual(out, {
      text: 'name\tcity\tnote\nDoe, John\tParis\tsaid "hi"\nAnn\tRome, IT\t\nmulti line\tx\ty',
      format: 'csv',
      chars: 69,
      truncated: false,
      lines: 4,
    });
  });

  it('reads tab-separated values', async () => {
    const out = await extract('t.tsv', 'text/tab-separated-values', 'a\tb\n1\t"2, 3"\n');
    assert.equal(out.format, 'tsv');
    assert.equal(out.text, 'a\tb\n1\t2, 3');
  });

  it('renders HTML to text without scripts, styles, images or link targets', async () => {
    const html =
      '<!doctype html><html><head><title>T</title><style>p{color:red}</style><script>alert(1)</script></head>' +
      '<body><h1>Hello</h1><p>First <b>para</b> &amp; more.</p><ul><li>x</li><li>y</li></ul>' +
      '<a href="http://e.com/token">link</a><img src="a.png" alt="pic"></body></html>';
    const out = await extract('page.html', 'text/html; charset=utf-8', html);
    assert.deepEqual(out, {
      text: 'Hello\n\nFirst para & more.\n\n * x\n * y\n\nlink',
      format: 'html',
      chars: 42,
      truncated: false,
      lines: 8,
    });
  });

  it('extracts other textual types (XML, source code) as plain text', async () => {
    const xml = await extract('a.xml', 'application/xml', '<a>hi</a>');
    assert.equal(xml.format, 'plain');
    assert.equal(xml.text, '<a>hi</a>');
    const py = await extract('a.py', 'text/x-python', 'print(1)\n');
    assert.equal(py.text, 'print(1)\n');
    const unknown = await extract('LICENSE', 'application/octet-stream', 'MIT License\n');
    assert.equal(unknown.format, 'plain');
  });

  it('answers an empty text for an empty file', async () => {
    const out = await extract('empty.txt', 'text/plain', '');
    assert.deepEqual(out, { text: '', format: 'plain', chars: 0, truncated: false, lines: 0 });
  });
});

describe('pipeline step text_extract: skipped content', () => {
  for (const [name, mime, bytes] of [
    ['a.png', 'image/png', png(4, 4)],
    ['a.jpg', 'application/octet-stream', jpeg(16, 16)],
    ['a.gif', 'text/plain', gif(2, 2)],
  ] as const) {
    it(`skips the image ${name} (declared ${mime}) by its content`, async () => {
      const out = await extract(name, mime, bytes);
      assert.equal(out.text, null);
      assert.equal(out.format, 'unsupported');
      assert.ok('skipped' in out && out.skipped);
      assert.match((out as { reason: string }).reason, /^no text in image\//);
    });
  }

  it('skips a PDF, binary bytes and a declared video', async () => {
    const pdf = await extract(
      'a.pdf',
      'application/pdf',
      '%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n',
    );
    assert.deepEqual(pdf, {
      text: null,
      format: 'unsupported',
      skipped: true,
      reason: 'no text in application/pdf content',
    });
    const bin = await extract('blob.bin', 'application/octet-stream', Buffer.from([1, 2, 3, 0, 255, 254, 3]));
    assert.deepEqual(bin, { text: null, format: 'unsupported', skipped: true, reason: 'binary content' });
    const latin = await extract('blob', undefined, Buffer.from([0x41, 0xe9, 0xff, 0x42]));
    assert.equal((latin as { reason: string }).reason, 'binary content');
    const video = await extract('a.mp4', 'video/mp4', Buffer.from('not really a video'));
    assert.deepEqual(video, {
      text: null,
      format: 'unsupported',
      skipped: true,
      reason: 'unsupported type video/mp4',
    });
  });

  it('skips an object without a content blob', async () => {
    const out = await run({}, mapInput({ content: null }));
    assert.deepEqual(out, {
      text: null,
      format: 'unsupported',
      skipped: true,
      reason: 'the object has no content blob',
    });
  });

  it('stops reading a skipped file after its head', async () => {
    let served = 0;
    function* bigImage() {
      yield png(8, 8);
      for (;;) {
        served++;
        yield Buffer.alloc(65536);
      }
    }
    const input = mapInput({
      filename: 'big.png',
      mime: 'image/png',
      content: () => Readable.from(bigImage()),
    });
    const out = await run({}, input);
    assert.equal(out.format, 'unsupported');
    assert.ok(served < 5, `read ${served} chunks after the head`);
    assert.equal(input.opened[0].destroyed, true);
  });
});

describe('pipeline step text_extract: failures and limits', () => {
  it('fails a document whose JSON does not parse, non-retryably', async () => {
    await assertStepError(extract('bad.json', 'application/json', '{"a": 1,'), /^invalid JSON: /);
  });

  it('fails a document whose CSV does not parse, non-retryably', async () => {
    await assertStepError(extract('bad.csv', 'text/csv', 'a,b\n"unclosed,c\n'), /^invalid CSV: .*quote/i);
  });

  it('cuts the text at max_chars without splitting a surrogate pair', async () => {
    const out = await extract('a.txt', 'text/plain', 'abcdefgh😀ij', 9);
    assert.deepEqual(out, { text: 'abcdefgh', format: 'plain', chars: 8, truncated: true, lines: 1 });
    const whole = await extract('a.txt', 'text/plain', 'abcdefgh😀', 10);
    assert.equal(whole.text, 'abcdefgh😀');
    assert.equal((whole as { truncated: boolean }).truncated, false);
  });

  it('cuts flattened JSON at max_chars and says so', async () => {
    const doc = { rows: Array.from({ length: 1000 }, (_, i) => ({ i })) };
    const json = JSON.stringify(doc);
    const out = await extract('big.json', 'application/json', json, 5000);
    assert.ok(json.length < 5000 * 4, 'the whole JSON is read');
    assert.equal(out.text!.length, 5000);
    assert.equal((out as { note?: string }).note, undefined);
    assert.equal((out as { truncated: boolean }).truncated, true);
    assert.ok(out.text!.startsWith('rows[0].i: 0\nrows[1].i: 1\n'));
  });

  it('bounds the read of an endless stream at max_chars * 4 bytes', async () => {
    let bytesServed = 0;
    function* endless() {
      for (;;) {
        bytesServed += 1000;
        yield Buffer.from('é'.repeat(500)); // 2 bytes per character
      }
    }
    const input = mapInput({
      filename: 'log.txt',
      mime: 'text/plain',
      content: () => Readable.from(endless()),
    });
    const out = await run({ max_chars: 10_000 }, input);
    assert.equal(out.format, 'plain');
    assert.equal(out.text, 'é'.repeat(10_000));
    assert.equal((out as { truncated: boolean }).truncated, true);
    assert.ok(bytesServed <= 40_000 + 2 * 1000 + 16 * 1024, `served ${bytesServed} bytes`);
    assert.equal(input.opened[0].destroyed, true);
  });

  it('falls back to the raw text of JSON cut by the bounded read', async () => {
    const json = JSON.stringify({ a: 'x'.repeat(100) });
    const out = await extract('big.json', 'application/json', json, 20);
    assert.equal(out.text, json.slice(0, 20));
    assert.equal(out.format, 'json');
    assert.equal((out as { truncated: boolean }).truncated, true);
    assert.match((out as { note: string }).note, /does not parse as json: raw text/);
  });

  it('parses the complete rows of CSV cut by the bounded read', async () => {
    const rows = Array.from({ length: 100 }, (_, i) => `${i},"n, ${i}"`);
    const csv = ['id,name', ...rows].join('\n');
    const out = await extract('big.csv', 'text/csv', csv, 20); // reads 80 bytes: 8 rows and a part
    assert.equal(out.format, 'csv');
    assert.equal((out as { note?: string }).note, undefined);
    assert.equal(out.text, 'id\tname\n0\tn, 0\n1\tn, 1\n2\tn, 2\n3\tn, 3'.slice(0, 20));
    assert.equal((out as { truncated: boolean }).truncated, true);
  });

  it('falls back to the raw text when the bounded read ends inside a quoted CSV field', async () => {
    const csv = 'a,b\n1,"' + 'line\n'.repeat(50) + '"\n';
    const out = await extract('q.csv', 'text/csv', csv, 10); // 40 bytes: the quote never closes
    assert.equal(out.text, csv.slice(0, 10));
    assert.match((out as { note: string }).note, /does not parse as csv: raw text/);
  });

  it('registry: a map step whose config is validated', async () => {
    const step = steps.text_extract as MapStep;
    assert.equal(step.kind, 'map');
    const out = await step.run({}, mapInput({ filename: 'a.txt', mime: 'text/plain', content: 'hi' }));
    assert.equal(out.text, 'hi');
    await assertStepError(
      step.run({ max_chars: 0 }, mapInput({ content: 'hi' })),
      /invalid text_extract config: max_chars/,
    );
    await assertStepError(
      step.run({ foo: 1 }, mapInput({ content: 'hi' })),
      /invalid text_extract config: .*foo/,
    );
  });
});
