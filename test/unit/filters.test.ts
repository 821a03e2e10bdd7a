// Unit tests for core/filters.ts: every FileFilters rule on its own, then ANDed.
import assert from 'node:assert/strict';
import {
  compileFilters,
  filtersNeedDetails,
  getPath,
  metadataFilterMatches,
  mimeTypeOf,
  type FilterDecision,
} from '../../core/filters';
import type { SourceEntry } from '../../core/entry';
import type { FileFilters } from '../../core/request-schemas';

function entry(p: string, over: Partial<SourceEntry> = {}): SourceEntry {
  const name = p.split('/').at(-1) ?? p;
  return {
    sourceObjectId: p,
    path: p,
    name,
    size: 1000,
    modifiedAt: '2025-06-01T12:00:00.000Z',
    version: 'v1',
    metadata: {},
    ...over,
  };
}

function decide(filters: FileFilters | null | undefined, e: SourceEntry): FilterDecision {
  return compileFilters(filters)(e);
}

function keeps(filters: FileFilters | null | undefined, e: SourceEntry): boolean {
  return decide(filters, e).keep;
}

function reasonOf(filters: FileFilters | null | undefined, e: SourceEntry): string | undefined {
  const d = decide(filters, e);
  return d.keep ? undefined : d.reason;
}

describe('filters: what they read of an entry', () => {
  it('need the whole entry only for mime types and metadata (else a lazy listing will do)', () => {
    assert.equal(filtersNeedDetails(null), false);
    assert.equal(filtersNeedDetails({}), false);
    assert.equal(
      filtersNeedDetails({ include_patterns: ['*.pdf'], max_size_bytes: 10, extensions: ['pdf'] }),
      false,
    );
    assert.equal(filtersNeedDetails({ mime_types: ['image/*'] }), true);
    assert.equal(filtersNeedDetails({ mime_types: [] }), false);
    assert.equal(
      filtersNeedDetails({
        metadata_filters: [{ field: 'owner', operator: 'equals', value: 'x' }],
      }),
      true,
    );
  });
});

describe('filters: empty filters', () => {
  for (const [label, f] of [
    ['null', null],
    ['undefined', undefined],
    ['{}', {}],
    [
      'empty arrays',
      {
        include_patterns: [],
        exclude_patterns: [],
        mime_types: [],
        extensions: [],
        patterns: [],
        metadata_filters: [],
      },
    ],
  ] as [string, FileFilters | null | undefined][]) {
    it(`keeps everything with ${label}`, () => {
      for (const e of [
        entry('a.mp4'),
        entry('deep/dir/x.txt', { size: 0 }),
        entry('.hidden', { size: 10 ** 12 }),
        entry('noext', { contentType: 'weird/type', metadata: { a: 1 } }),
      ]) {
        assert.deepEqual(decide(f, e), { keep: true }, `${label} on ${e.path}`);
      }
    });
  }
});

describe('filters: include_patterns', () => {
  it('`*.mp4` matches the base name at any depth', () => {
    const f = { include_patterns: ['*.mp4'] };
    assert.equal(keeps(f, entry('a.mp4')), true);
    assert.equal(keeps(f, entry('x/a.mp4')), true);
    assert.equal(keeps(f, entry('x/y/z/a.mp4')), true);
    assert.equal(keeps(f, entry('x/y/z/a.mov')), false);
    assert.equal(
      keeps(f, entry('a.mp4/readme.txt')),
      false,
      'a folder named *.mp4 does not make its files match',
    );
  });

  it('is case-sensitive as a glob', () => {
    assert.equal(keeps({ include_patterns: ['*.mp4'] }, entry('A.MP4')), false);
  });

  it('matches dot files with `*`', () => {
    assert.equal(keeps({ include_patterns: ['*.env'] }, entry('cfg/.env')), true);
  });

  it('keeps a file matching any one of several patterns', () => {
    const f = { include_patterns: ['*.mp4', '*.mov', '*.webm'] };
    assert.equal(keeps(f, entry('v/a.mov')), true);
    assert.equal(keeps(f, entry('v/a.webm')), true);
    assert.equal(keeps(f, entry('v/a.avi')), false);
  });

  it('`**` crosses folders', () => {
    const f = { include_patterns: ['videos/**/*.mp4'] };
    assert.equal(keeps(f, entry('videos/a.mp4')), true);
    assert.equal(keeps(f, entry('videos/2025/a.mp4')), true);
    assert.equal(keeps(f, entry('videos/2025/06/01/a.mp4')), true);
    assert.equal(keeps(f, entry('videos/2025/06/01/a.mov')), false);
    assert.equal(keeps(f, entry('audio/2025/a.mp3')), false);
  });

  it('a single `*` does not cross folders in a path pattern', () => {
    const f = { include_patterns: ['videos/*.mp4'] };
    assert.equal(keeps(f, entry('videos/a.mp4')), true);
    assert.equal(keeps(f, entry('videos/2025/a.mp4')), false);
  });

  it('`**/x` matches at the root too', () => {
    const f = { include_patterns: ['**/*.mp4'] };
    assert.equal(keeps(f, entry('a.mp4')), true);
    assert.equal(keeps(f, entry('a/b/c.mp4')), true);
    assert.equal(keeps(f, entry('a/b/c.mov')), false);
  });

  it('ignores a leading `/` on the pattern', () => {
    assert.equal(keeps({ include_patterns: ['/videos/*.mp4'] }, entry('videos/a.mp4')), true);
  });

  it('rejects with reason include_patterns', () => {
    assert.deepEqual(decide({ include_patterns: ['*.mp4'] }, entry('a.txt')), {
      keep: false,
      reason: 'include_patterns',
    });
  });
});

describe('filters: exclude_patterns', () => {
  const f = { exclude_patterns: ['*/drafts/*'] };

  it('`*/drafts/*` excludes drafts/x at the root', () => {
    assert.deepEqual(decide(f, entry('drafts/x')), { keep: false, reason: 'exclude_patterns' });
  });

  it('`*/drafts/*` excludes one folder deep and deeper', () => {
    assert.equal(keeps(f, entry('a/drafts/x')), false);
    assert.equal(keeps(f, entry('a/b/drafts/x')), false);
    assert.equal(keeps(f, entry('a/b/c/d/drafts/video.mp4')), false);
  });

  it('`*/drafts/*` keeps files not in a drafts folder', () => {
    assert.equal(keeps(f, entry('x')), true);
    assert.equal(keeps(f, entry('a/x')), true);
    assert.equal(keeps(f, entry('a/drafts')), true, 'a file named drafts');
    assert.equal(keeps(f, entry('a/mydrafts/x')), true);
    assert.equal(keeps(f, entry('a/drafts-old/x')), true);
  });

  it('a base-name exclude such as `*_temp.*` applies at any depth', () => {
    const g = { exclude_patterns: ['*_temp.*'] };
    assert.equal(keeps(g, entry('clip_temp.mp4')), false);
    assert.equal(keeps(g, entry('a/b/clip_temp.mov')), false);
    assert.equal(keeps(g, entry('a/b/clip.mov')), true);
  });

  it('`**` in an exclude crosses folders', () => {
    const g = { exclude_patterns: ['tmp/**'] };
    assert.equal(keeps(g, entry('tmp/a')), false);
    assert.equal(keeps(g, entry('tmp/a/b/c')), false);
    assert.equal(keeps(g, entry('tmpx/a')), true);
  });

  it('exclude wins over include', () => {
    const g = { include_patterns: ['*.mp4'], exclude_patterns: ['*/drafts/*'] };
    assert.equal(keeps(g, entry('a/final/x.mp4')), true);
    assert.deepEqual(decide(g, entry('a/drafts/x.mp4')), { keep: false, reason: 'exclude_patterns' });
    assert.deepEqual(decide(g, entry('a/final/x.mov')), { keep: false, reason: 'include_patterns' });
  });
});

describe('filters: size bounds', () => {
  it('min_size_bytes is inclusive', () => {
    const f = { min_size_bytes: 1024 };
    assert.equal(keeps(f, entry('a', { size: 1023 })), false);
    assert.equal(keeps(f, entry('a', { size: 1024 })), true);
    assert.equal(keeps(f, entry('a', { size: 1025 })), true);
    assert.deepEqual(decide(f, entry('a', { size: 0 })), { keep: false, reason: 'min_size_bytes' });
  });

  it('max_size_bytes is inclusive', () => {
    const f = { max_size_bytes: 10485760 };
    assert.equal(keeps(f, entry('a', { size: 10485759 })), true);
    assert.equal(keeps(f, entry('a', { size: 10485760 })), true);
    assert.equal(keeps(f, entry('a', { size: 10485761 })), false);
    assert.equal(reasonOf(f, entry('a', { size: 10485761 })), 'max_size_bytes');
  });

  it('min 0 keeps empty files; max 0 keeps only empty files', () => {
    assert.equal(keeps({ min_size_bytes: 0 }, entry('a', { size: 0 })), true);
    assert.equal(keeps({ max_size_bytes: 0 }, entry('a', { size: 0 })), true);
    assert.equal(keeps({ max_size_bytes: 0 }, entry('a', { size: 1 })), false);
  });

  it('both bounds equal keep exactly that size', () => {
    const f = { min_size_bytes: 500, max_size_bytes: 500 };
    assert.equal(reasonOf(f, entry('a', { size: 499 })), 'min_size_bytes');
    assert.equal(keeps(f, entry('a', { size: 500 })), true);
    assert.equal(reasonOf(f, entry('a', { size: 501 })), 'max_size_bytes');
  });

  it('handles sizes above 2^32', () => {
    const f = { max_size_bytes: 5368709120 };
    assert.equal(keeps(f, entry('a', { size: 5368709120 })), true);
    assert.equal(keeps(f, entry('a', { size: 5368709121 })), false);
  });
});

describe('filters: modified window', () => {
  it('modified_after is inclusive', () => {
    const f = { modified_after: '2025-01-01T00:00:00Z' };
    assert.equal(keeps(f, entry('a', { modifiedAt: '2024-12-31T23:59:59.999Z' })), false);
    assert.equal(keeps(f, entry('a', { modifiedAt: '2025-01-01T00:00:00.000Z' })), true);
    assert.equal(keeps(f, entry('a', { modifiedAt: '2025-01-01T00:00:00.001Z' })), true);
    assert.equal(reasonOf(f, entry('a', { modifiedAt: '2020-01-01T00:00:00Z' })), 'modified_after');
  });

  it('modified_before is inclusive', () => {
    const f = { modified_before: '2025-01-01T00:00:00Z' };
    assert.equal(keeps(f, entry('a', { modifiedAt: '2024-12-31T23:59:59.999Z' })), true);
    assert.equal(keeps(f, entry('a', { modifiedAt: '2025-01-01T00:00:00.000Z' })), true);
    assert.equal(keeps(f, entry('a', { modifiedAt: '2025-01-01T00:00:00.001Z' })), false);
    assert.equal(reasonOf(f, entry('a', { modifiedAt: '2030-01-01T00:00:00Z' })), 'modified_before');
  });

  it('compares instants, not strings, across time-zone offsets', () => {
    // 02:00+02:00 is 00:00Z.
    const f = { modified_after: '2025-01-01T02:00:00+02:00', modified_before: '2025-01-01T02:00:00+02:00' };
    assert.equal(keeps(f, entry('a', { modifiedAt: '2025-01-01T00:00:00.000Z' })), true);
    assert.equal(keeps(f, entry('a', { modifiedAt: '2025-01-01T00:00:01.000Z' })), false);
    assert.equal(keeps(f, entry('a', { modifiedAt: '2024-12-31T23:59:59.000Z' })), false);
  });

  it('a window keeps only what lies inside it', () => {
    const f = { modified_after: '2025-01-01T00:00:00Z', modified_before: '2025-02-01T00:00:00Z' };
    assert.equal(keeps(f, entry('a', { modifiedAt: '2025-01-15T00:00:00Z' })), true);
    assert.equal(reasonOf(f, entry('a', { modifiedAt: '2024-12-15T00:00:00Z' })), 'modified_after');
    assert.equal(reasonOf(f, entry('a', { modifiedAt: '2025-02-15T00:00:00Z' })), 'modified_before');
  });

  it('rejects an entry whose modifiedAt cannot be parsed when a bound is set', () => {
    assert.equal(
      keeps({ modified_after: '2025-01-01T00:00:00Z' }, entry('a', { modifiedAt: 'garbage' })),
      false,
    );
    assert.equal(keeps({}, entry('a', { modifiedAt: 'garbage' })), true);
  });
});

describe('filters: mime_types', () => {
  it('matches an exact type from the extension when there is no content type', () => {
    const f = { mime_types: ['video/mp4'] };
    assert.equal(keeps(f, entry('a/b.mp4')), true);
    assert.equal(keeps(f, entry('a/b.mov')), false);
    assert.equal(reasonOf(f, entry('a/b.mov')), 'mime_types');
  });

  it('`video/*` matches any video type', () => {
    const f = { mime_types: ['video/*'] };
    assert.equal(keeps(f, entry('a.mp4')), true);
    assert.equal(keeps(f, entry('a.mov')), true);
    assert.equal(keeps(f, entry('a.webm')), true);
    assert.equal(keeps(f, entry('a.jpg')), false);
    assert.equal(keeps(f, entry('a.mp3')), false);
  });

  it('`video/*` does not match a type that merely starts with "video"', () => {
    assert.equal(keeps({ mime_types: ['video/*'] }, entry('a', { contentType: 'videox/foo' })), false);
  });

  it('prefers the content type over the extension', () => {
    const f = { mime_types: ['image/png'] };
    assert.equal(keeps(f, entry('a.mp4', { contentType: 'image/png' })), true);
    assert.equal(keeps({ mime_types: ['video/mp4'] }, entry('a.mp4', { contentType: 'image/png' })), false);
  });

  it('ignores content type parameters and case', () => {
    const f = { mime_types: ['text/plain'] };
    assert.equal(keeps(f, entry('noext', { contentType: 'text/plain; charset=utf-8' })), true);
    assert.equal(keeps(f, entry('noext', { contentType: 'Text/Plain;charset=UTF-8' })), true);
    assert.equal(keeps({ mime_types: ['TEXT/PLAIN'] }, entry('noext', { contentType: 'text/plain' })), true);
    assert.equal(
      keeps({ mime_types: ['text/*'] }, entry('noext', { contentType: 'text/csv; header=present' })),
      true,
    );
  });

  it('falls back to the extension when the content type is a generic octet-stream', () => {
    const f = { mime_types: ['video/mp4'] };
    assert.equal(keeps(f, entry('a.mp4', { contentType: 'application/octet-stream' })), true);
    assert.equal(keeps(f, entry('a.mp4', { contentType: 'binary/octet-stream' })), true);
  });

  it('accepts any of several types', () => {
    const f = { mime_types: ['video/mp4', 'video/quicktime'] };
    assert.equal(keeps(f, entry('a.mov')), true);
    assert.equal(keeps(f, entry('a.mp4')), true);
    assert.equal(keeps(f, entry('a.avi')), false);
  });

  it('mimeTypeOf reports the derived type', () => {
    assert.equal(mimeTypeOf({ name: 'a.mp4' }), 'video/mp4');
    assert.equal(mimeTypeOf({ name: 'a.JPG' }), 'image/jpeg');
    assert.equal(mimeTypeOf({ name: 'a.mp4', contentType: 'Image/PNG; q=1' }), 'image/png');
    assert.equal(mimeTypeOf({ name: 'unknownfile' }), 'application/octet-stream');
    assert.equal(
      mimeTypeOf({ name: 'x.unknownext', contentType: 'application/octet-stream' }),
      'application/octet-stream',
    );
  });
});

describe('filters: extensions (legacy)', () => {
  it('accepts extensions with a dot', () => {
    const f = { extensions: ['.mp4', '.mov'] };
    assert.equal(keeps(f, entry('a.mp4')), true);
    assert.equal(keeps(f, entry('x/y/a.mov')), true);
    assert.equal(keeps(f, entry('a.avi')), false);
    assert.equal(reasonOf(f, entry('a.avi')), 'extensions');
  });

  it('accepts extensions without a dot', () => {
    const f = { extensions: ['mp4'] };
    assert.equal(keeps(f, entry('a.mp4')), true);
    assert.equal(keeps(f, entry('amp4')), false, 'needs the dot before the extension');
  });

  it('is case-insensitive both ways', () => {
    assert.equal(keeps({ extensions: ['.mp4'] }, entry('A.MP4')), true);
    assert.equal(keeps({ extensions: ['.MP4'] }, entry('a.mp4')), true);
    assert.equal(keeps({ extensions: ['JPG'] }, entry('photo.Jpg')), true);
  });

  it('matches the end of the name, not the middle', () => {
    assert.equal(keeps({ extensions: ['.mp4'] }, entry('a.mp4.part')), false);
    assert.equal(keeps({ extensions: ['.gz'] }, entry('a.tar.gz')), true);
    assert.equal(keeps({ extensions: ['.tar.gz'] }, entry('a.tar.gz')), true);
  });

  it('applies to the file name, not to folder names', () => {
    assert.equal(keeps({ extensions: ['.mp4'] }, entry('x.mp4/readme')), false);
  });
});

describe('filters: patterns (legacy regexes on the name)', () => {
  it('tests the regex against the file name', () => {
    const f = { patterns: ['.*-processed\\.jpg$'] };
    assert.equal(keeps(f, entry('a/b/photo-processed.jpg')), true);
    assert.equal(keeps(f, entry('a/b/photo.jpg')), false);
    assert.equal(keeps(f, entry('a/b/photo-processed.jpg.bak')), false);
    assert.equal(reasonOf(f, entry('photo.jpg')), 'patterns');
  });

  it('does not see the folders in the path', () => {
    const f = { patterns: ['^photos/'] };
    assert.equal(keeps(f, entry('photos/a.jpg')), false);
    assert.equal(keeps({ patterns: ['^a\\.jpg$'] }, entry('photos/a.jpg')), true);
  });

  it('is unanchored unless the regex anchors it', () => {
    assert.equal(keeps({ patterns: ['proc'] }, entry('x-processed.jpg')), true);
    assert.equal(keeps({ patterns: ['^proc'] }, entry('x-processed.jpg')), false);
  });

  it('keeps a name matching any of several regexes', () => {
    const f = { patterns: ['^IMG_\\d+', '\\.raw$'] };
    assert.equal(keeps(f, entry('IMG_0001.jpg')), true);
    assert.equal(keeps(f, entry('shot.raw')), true);
    assert.equal(keeps(f, entry('shot.jpg')), false);
  });

  it('gives the same answer on repeated use of one compiled filter', () => {
    const fn = compileFilters({ patterns: ['a'] });
    for (let i = 0; i < 5; i++) assert.equal(fn(entry('a.txt')).keep, true);
  });
});

describe('filters: metadata_filters', () => {
  const meta = {
    status: 'approved',
    count: 10,
    countStr: '10',
    score: 2.5,
    tags: ['hero', 'banner', 7],
    title: 'Summer launch video',
    flag: false,
    zero: 0,
    empty: '',
    nil: null,
    a: { b: [{ c: 'deep' }, 'second'], n: { x: 3 } },
    date: '2025-03-01',
  };
  const m = (field: string, operator: string, value?: unknown) =>
    metadataFilterMatches(meta, { field, operator, value });

  it('equals', () => {
    assert.equal(m('status', 'equals', 'approved'), true);
    assert.equal(m('status', 'equals', 'rejected'), false);
    assert.equal(m('count', 'equals', 10), true);
    assert.equal(m('count', 'equals', '10'), true, 'number vs numeric string');
    assert.equal(m('countStr', 'equals', 10), true);
    assert.equal(m('flag', 'equals', false), true);
    assert.equal(m('zero', 'equals', 0), true);
    assert.equal(m('missing', 'equals', 'x'), false);
    assert.equal(m('a.n', 'equals', { x: 3 }), true);
    assert.equal(m('tags', 'equals', ['hero', 'banner', 7]), true);
  });

  it('not_equals', () => {
    assert.equal(m('status', 'not_equals', 'rejected'), true);
    assert.equal(m('status', 'not_equals', 'approved'), false);
    assert.equal(m('count', 'not_equals', 11), true);
    assert.equal(m('count', 'not_equals', '10'), false);
    assert.equal(m('missing', 'not_equals', 'x'), true, 'a missing field differs from any value');
  });

  it('contains on strings', () => {
    assert.equal(m('title', 'contains', 'launch'), true);
    assert.equal(m('title', 'contains', 'winter'), false);
    assert.equal(m('countStr', 'contains', 1), true, 'a number needle in a string');
  });

  it('contains on arrays', () => {
    assert.equal(m('tags', 'contains', 'hero'), true);
    assert.equal(m('tags', 'contains', 'her'), false, 'array elements are compared whole');
    assert.equal(m('tags', 'contains', 'villain'), false);
    assert.equal(m('tags', 'contains', 7), true);
    assert.equal(m('tags', 'contains', '7'), true);
  });

  it('contains on a missing field or a non-container is false', () => {
    assert.equal(m('missing', 'contains', 'x'), false);
    assert.equal(m('count', 'contains', 1), false);
    assert.equal(m('nil', 'contains', 'x'), false);
  });

  it('not_contains', () => {
    assert.equal(m('tags', 'not_contains', 'villain'), true);
    assert.equal(m('tags', 'not_contains', 'hero'), false);
    assert.equal(m('title', 'not_contains', 'winter'), true);
    assert.equal(m('title', 'not_contains', 'Summer'), false);
    assert.equal(m('missing', 'not_contains', 'x'), true);
  });

  it('gt / lt on numbers', () => {
    assert.equal(m('count', 'gt', 9), true);
    assert.equal(m('count', 'gt', 10), false);
    assert.equal(m('count', 'lt', 11), true);
    assert.equal(m('count', 'lt', 10), false);
    assert.equal(m('score', 'gt', 2.4), true);
    assert.equal(m('score', 'lt', 2.4), false);
  });

  it('gt / lt compare numeric strings as numbers, not text', () => {
    // As text "10" < "9"; as numbers 10 > 9.
    assert.equal(m('countStr', 'gt', 9), true);
    assert.equal(m('countStr', 'gt', '9'), true);
    assert.equal(m('countStr', 'lt', '9'), false);
    assert.equal(m('count', 'gt', '9'), true);
    assert.equal(m('countStr', 'lt', 100), true);
  });

  it('gte / lte include the boundary', () => {
    assert.equal(m('count', 'gte', 10), true);
    assert.equal(m('count', 'gte', 11), false);
    assert.equal(m('count', 'lte', 10), true);
    assert.equal(m('count', 'lte', 9), false);
    assert.equal(m('countStr', 'gte', '10'), true);
    assert.equal(m('countStr', 'lte', 10), true);
  });

  it('ordering operators on non-numeric strings compare text (ISO dates work)', () => {
    assert.equal(m('date', 'gt', '2025-01-01'), true);
    assert.equal(m('date', 'lt', '2025-01-01'), false);
    assert.equal(m('date', 'gte', '2025-03-01'), true);
  });

  it('ordering operators on a missing or non-comparable field are false', () => {
    for (const op of ['gt', 'lt', 'gte', 'lte']) {
      assert.equal(m('missing', op, 1), false, `${op} on missing`);
      assert.equal(m('nil', op, 1), false, `${op} on null`);
      assert.equal(m('tags', op, 1), false, `${op} on an array`);
      assert.equal(m('empty', op, 0), false, `${op} on an empty string`);
    }
  });

  it('exists', () => {
    assert.equal(m('status', 'exists'), true);
    assert.equal(m('status', 'exists', true), true);
    assert.equal(m('flag', 'exists'), true, 'false is a present value');
    assert.equal(m('zero', 'exists'), true, '0 is a present value');
    assert.equal(m('empty', 'exists'), true, '"" is a present value');
    assert.equal(m('missing', 'exists'), false);
    assert.equal(m('nil', 'exists'), false, 'null counts as absent');
    assert.equal(m('missing', 'exists', false), true, 'exists:false asks for absence');
    assert.equal(m('status', 'exists', false), false);
  });

  it('reads nested paths like a.b[0].c', () => {
    assert.equal(m('a.b[0].c', 'equals', 'deep'), true);
    assert.equal(m('a.b[1]', 'equals', 'second'), true);
    assert.equal(m('a.b[2]', 'exists'), false);
    assert.equal(m('a.n.x', 'gte', 3), true);
    assert.equal(m('tags[0]', 'equals', 'hero'), true);
    assert.equal(m('a.missing.deeper', 'exists'), false);
    assert.equal(m('status.length', 'exists'), false, 'no property access on strings');
  });

  it('getPath handles missing fields and bad paths', () => {
    const o = { a: { b: [{ c: 1 }, [10, 20]] } };
    assert.equal(getPath(o, 'a.b[0].c'), 1);
    assert.equal(getPath(o, 'a.b[1][1]'), 20);
    assert.equal(getPath(o, 'a.x'), undefined);
    assert.equal(getPath(o, 'a.b[5].c'), undefined);
    assert.equal(getPath(o, 'a[0]'), undefined, 'index into a non-array');
    assert.equal(getPath(o, 'a.b[x]'), undefined, 'malformed index');
    assert.equal(getPath(null, 'a'), undefined);
  });

  it('an unknown operator never matches', () => {
    assert.equal(m('status', 'matches', 'approved'), false);
  });

  it('through compileFilters: all metadata filters must hold; the reason names the field', () => {
    const f: FileFilters = {
      metadata_filters: [
        { field: 'status', operator: 'equals', value: 'approved' },
        { field: 'tags', operator: 'contains', value: 'hero' },
      ],
    };
    assert.deepEqual(decide(f, entry('a', { metadata: { status: 'approved', tags: ['hero'] } })), {
      keep: true,
    });
    assert.deepEqual(decide(f, entry('a', { metadata: { status: 'draft', tags: ['hero'] } })), {
      keep: false,
      reason: 'metadata_filters.status',
    });
    assert.deepEqual(decide(f, entry('a', { metadata: { status: 'approved', tags: ['other'] } })), {
      keep: false,
      reason: 'metadata_filters.tags',
    });
    assert.deepEqual(decide(f, entry('a', { metadata: {} })), {
      keep: false,
      reason: 'metadata_filters.status',
    });
  });
});

describe('filters: all rules ANDed', () => {
  const f: FileFilters = {
    include_patterns: ['*.mp4', '*.mov', '*.webm'],
    exclude_patterns: ['*/drafts/*', '*_temp.*'],
    min_size_bytes: 1024,
    max_size_bytes: 5368709120,
    modified_after: '2025-01-01T00:00:00Z',
    modified_before: '2025-12-31T23:59:59Z',
    mime_types: ['video/mp4', 'video/quicktime'],
    extensions: ['.mp4', 'mov'],
    patterns: ['^clip'],
    metadata_filters: [{ field: 'status', operator: 'equals', value: 'approved' }],
  };
  const good = entry('videos/2025/clip1.mp4', {
    size: 2048,
    modifiedAt: '2025-06-01T00:00:00Z',
    metadata: { status: 'approved' },
  });

  it('keeps an entry that passes every rule', () => {
    assert.deepEqual(decide(f, good), { keep: true });
    assert.deepEqual(decide(f, { ...good, path: 'videos/clip2.mov', name: 'clip2.mov' }), { keep: true });
  });

  it('rejects on each rule alone, naming it', () => {
    const cases: [string, SourceEntry][] = [
      ['include_patterns', { ...good, path: 'videos/clip1.avi', name: 'clip1.avi' }],
      ['exclude_patterns', { ...good, path: 'videos/drafts/clip1.mp4' }],
      ['exclude_patterns', { ...good, path: 'videos/clip1_temp.mp4', name: 'clip1_temp.mp4' }],
      ['min_size_bytes', { ...good, size: 1023 }],
      ['max_size_bytes', { ...good, size: 5368709121 }],
      ['modified_after', { ...good, modifiedAt: '2024-12-31T23:59:59Z' }],
      ['modified_before', { ...good, modifiedAt: '2026-01-01T00:00:00Z' }],
      ['mime_types', { ...good, contentType: 'image/png' }],
      ['extensions', { ...good, path: 'videos/clip1.webm', name: 'clip1.webm', contentType: 'video/mp4' }],
      ['patterns', { ...good, path: 'videos/take1.mp4', name: 'take1.mp4' }],
      ['metadata_filters.status', { ...good, metadata: { status: 'draft' } }],
    ];
    for (const [reason, e] of cases) {
      assert.deepEqual(decide(f, e), { keep: false, reason }, `expected ${reason} for ${JSON.stringify(e)}`);
    }
  });

  it('a compiled filter is reusable across many entries', () => {
    const fn = compileFilters(f);
    const results = [good, { ...good, size: 1 }, good].map((e) => fn(e).keep);
    assert.deepEqual(results, [true, false, true]);
  });
});
