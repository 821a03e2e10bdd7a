// Benchmark: listing a flat local folder page by page (providers/local.ts), as a sync pass does.
//
//   node dist/bench/local-listing.js [--files=100000] [--page=1000] [--passes=3] [--dir=<folder>]
//
// Writes --files small files into one folder (kept in --dir when given, else a temporary folder),
// backdates the folder's mtime (a folder that last changed a minute ago, as between passes), then
// lists it --passes times in pages of --page and prints each pass's time. A page that re-reads
// and re-sorts the whole folder makes a pass grow with the square of the folder's size; one that
// finds its place in the kept, sorted entries grows with its size.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalProvider } from '../providers/local';

function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

async function main(): Promise<void> {
  const files = Number(arg('files', '100000'));
  const pageSize = Number(arg('page', '1000'));
  const passes = Number(arg('passes', '3'));
  const given = arg('dir', '');
  const root = given || mkdtempSync(path.join(os.tmpdir(), 'bench-listing-'));
  const dir = path.join(root, 'flat');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  const have = readdirSync(dir).length;
  for (let i = have; i < files; i++) writeFileSync(path.join(dir, `f${String(i).padStart(7, '0')}.bin`), 'x');
  const aMinuteAgo = new Date(Date.now() - 60_000);
  utimesSync(dir, aMinuteAgo, aMinuteAgo);
  const provider = new LocalProvider({ root });
  for (let pass = 0; pass < passes; pass++) {
    const started = process.hrtime.bigint();
    let cursor: string | null = null;
    let listed = 0;
    let pages = 0;
    do {
      const page = await provider.list('flat', { cursor, pageSize });
      listed += page.entries.length;
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`pass ${pass + 1}: ${listed} files in ${pages} pages of ${pageSize}: ${ms.toFixed(0)} ms`);
  }
  if (!given) rmSync(root, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
