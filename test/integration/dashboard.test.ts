// The dashboard at /ui in headless Chromium (Debian's, via puppeteer-core) on the real stack: it
// lists a running sync, its progress moves, its pause button pauses it. A screenshot goes to
// test-artifacts/dashboard.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { provisionTools } from '../../lib/servers';
import { bucketWithFolder, createSync, getSync, waitForSync } from '../helpers';
import { lane, PROJECT_ROOT, stack, type Lane } from '../setup/stack';

describe('dashboard (/ui) in headless Chromium', function () {
  this.timeout(240_000);
  let l: Lane;
  let browser: Browser | null = null;

  before(async function () {
    this.timeout(300_000);
    const tools = provisionTools(PROJECT_ROOT, ['chromium']);
    l = await lane(await stack(), { SYNC_PAGE_SIZE: '20' });
    browser = await puppeteer.launch({
      executablePath: tools.CHROMIUM_PATH!,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });
  after(async () => {
    await browser?.close();
  });

  it('lists a running sync, shows its progress moving, and pauses it with the button', async () => {
    // Enough pages (of 20) that the pass is still going when the click's pause arrives.
    const total = 3000;
    const files: Record<string, string> = {};
    for (let i = 0; i < total; i++) files[`d${i % 4}/f-${i}.txt`] = `file ${i} `.repeat(20);
    const { bucketId, connectionId } = await bucketWithFolder(l, files);
    const syncId = await createSync(l, bucketId, { connection_id: connectionId, source_path: '/' });

    const page = await browser!.newPage();
    await page.setViewport({ width: 1100, height: 700 });
    await page.goto(`${l.apiUrl}/ui/`);
    await page.type('#key', l.apiKey);
    await page.$eval('#ns', (e) => {
      (e as unknown as { value: string }).value = '';
    });
    await page.type('#ns', l.namespaceId);
    await page.click('#login button[type=submit]');
    // The key is kept for this tab's session only, and the form no longer shows it.
    assert.equal(await page.evaluate('sessionStorage.getItem("bs.key")'), l.apiKey);

    const card = `[data-sync="${syncId}"]`;
    await page.waitForSelector(card, { timeout: 30_000 });
    const listed = async () => {
      const t = await page
        .$eval(card, (e) => e.querySelector('.progress-text')?.textContent ?? '')
        .catch(() => '');
      const m = /(\d+) listed/.exec(t);
      return m ? Number(m[1]) : -1;
    };
    // Progress moves: two different counts seen while the pass runs, one of them mid-pass.
    const seen = new Set<number>();
    const deadline = Date.now() + 90_000;
    const moved = () => seen.size >= 2 && [...seen].some((n) => n > 0 && n < total);
    while (Date.now() < deadline && !moved()) {
      const n = await listed();
      if (n >= 0) seen.add(n);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(moved(), `progress seen: ${[...seen].join(', ')}`);

    await page.click(`${card} button[data-action="pause"]`);
    await page.waitForFunction(
      `document.querySelector('${card} [data-status]')?.getAttribute('data-status') === 'SUSPENDED'`,
      { timeout: 30_000 },
    );
    await page.waitForSelector(`${card} button[data-action="resume"]`, { timeout: 10_000 });
    const s = await waitForSync(l, bucketId, syncId, (x) => x.paused === true && !x.locked);
    assert.ok(s.total_files_synced < total, `paused before the pass ended (${s.total_files_synced} synced)`);

    // The runs chart and DLQ section open on demand.
    const [toggle] = await page.$$(`${card} button:not([data-action])`);
    await toggle.click();
    await page.waitForSelector(`${card} svg.chart`, { timeout: 10_000 });

    const dir = path.join(PROJECT_ROOT, 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: path.join(dir, 'dashboard.png'), fullPage: true });
    assert.equal((await getSync(l, bucketId, syncId)).status, 'SUSPENDED');
  });
});
