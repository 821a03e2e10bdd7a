// Records every platform-specific optional dependency in package-lock.json.
// The registry this project's machines reach does not serve some platforms' builds (e.g. @swc/core
// for darwin and win32), so `npm install` leaves them out of the lock and `npm ci` then refuses
// the lock. An entry marked optional is enough: npm skips it on other platforms.
// Run after changing dependencies: `npm install && node scripts/lock-optional.js`.
const fs = require('node:fs');
const file = require('node:path').join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
let added = 0;
for (const [where, meta] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = `${where ? `${where}/` : ''}node_modules/${dep}`;
    const top = `node_modules/${dep}`;
    if (!lock.packages[nested] && !lock.packages[top]) {
      lock.packages[top] = { version, optional: true };
      added++;
    }
  }
}
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`lock-optional: ${added} optional entr${added === 1 ? 'y' : 'ies'} added\n`);
