// Drives control's dashboard in Debian's headless chromium (playwright-core
// from third_party/node_modules, never a downloaded browser) and checks what
// a person would see: no console or page errors, every miner in the table,
// the faulty one shown degraded, the sleeping one shown sleeping (and
// counted), the charts drawn, and a reboot done through the page's button
// (token prompt, confirmation, result shown).
//
// node dashboard.mjs <control url> <token> <miner to reboot> <deadboard miner> <miner count>
//                    <sleeping miner>
// CHROMIUM overrides /usr/bin/chromium; ASICMON_SCREENSHOT=<png> saves the page.
// Exits 0 when every check passed, 1 (with the reasons on stderr) when not.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../third_party/node_modules/', import.meta.url));
const { chromium } = require('playwright-core');

const [base, token, rebootIp, deadIp, countText, sleepIp] = process.argv.slice(2);
const expectedCount = Number(countText);
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // CI runs as root, where chromium's sandbox cannot start; control is on
  // loopback, never behind a proxy the environment names.
  args: ['--no-sandbox', '--headless', '--no-proxy-server'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => failures.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    failures.push(`console error: ${m.text()} (${m.location().url})`);
  });
  const dialogs = [];
  page.on('dialog', async (d) => {
    dialogs.push(d.type());
    if (d.type() === 'prompt') await d.accept(token);
    else await d.accept();
  });

  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForFunction(() => document.getElementById('updated').textContent !== '');  // first render done
  await page.waitForFunction((n) => document.querySelectorAll('#miners tbody tr').length === n,
                             expectedCount);
  check(await page.locator('#miners tbody tr').count() === expectedCount, 'miner rows');
  const up = Number(await page.textContent('#t-up'));
  const down = Number(await page.textContent('#t-down'));
  check(up + down === expectedCount, `totals: up ${up} + down ${down} != ${expectedCount}`);

  const deadRow = page.locator(`#miners tbody tr[data-ip="${deadIp}"]`);
  const deadHealth = (await deadRow.locator('td.health').textContent()).trim();
  check(deadHealth === 'degraded', `deadboard miner ${deadIp} shown as '${deadHealth}'`);
  const deadBoards = await deadRow.locator('td.boards').textContent();
  check(/chips failed/.test(deadBoards), `deadboard miner's boards cell: '${deadBoards}'`);

  const sleepRow = page.locator(`#miners tbody tr[data-ip="${sleepIp}"]`);
  const sleepHealth = (await sleepRow.locator('td.health').textContent()).trim();
  check(sleepHealth === 'sleeping', `sleeping miner ${sleepIp} shown as '${sleepHealth}'`);
  const sleepColour = await sleepRow.locator('td.health').evaluate((td) => getComputedStyle(td).color);
  const faultColour = await page.evaluate(() => {
    const probe = document.body.appendChild(document.createElement('span'));
    probe.className = 'health health-down';
    const colour = getComputedStyle(probe).color;
    probe.remove();
    return colour;
  });
  check(sleepColour !== faultColour, `sleeping shown in the fault colour ${sleepColour}`);
  const sleeping = Number(await page.textContent('#t-sleeping'));
  check(sleeping === 1, `totals: ${sleeping} asleep`);

  // The farm mixes SHA-256 and scrypt miners: each algorithm's hashrate on its own.
  const hashrateTile = await page.textContent('#t-hashrate');
  check(/sha256d .*H\/s/.test(hashrateTile) && /scrypt .*H\/s/.test(hashrateTile),
        `totals per algorithm: '${hashrateTile}'`);

  // The farm chart: a canvas with pixels on it, over at least two samples.
  await page.waitForSelector('#farm-chart canvas');
  const painted = await page.$eval('#farm-chart canvas', (c) => {
    const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < pixels.length; i += 4) n += pixels[i] !== 0;
    return n;
  });
  check(painted > 1000, `farm chart has ${painted} painted pixels`);
  const farmPoints = await page.evaluate(() => state.charts['farm-chart'].data[1]);
  check(farmPoints.length >= 2 && farmPoints[farmPoints.length - 1] > 0,
        `farm chart data: ${JSON.stringify(farmPoints)}`);

  // The sleeping miner's panel says so.
  await page.click(`#miners tbody tr[data-ip="${sleepIp}"]`);
  await page.waitForFunction(() => document.getElementById('panel-state').textContent !== '');
  const panelState = await page.textContent('#panel-state');
  check(panelState === 'sleeping', `sleeping miner's panel: '${panelState}'`);

  // One miner's panel: its history charts, then a reboot from its button.
  await page.click(`#miners tbody tr[data-ip="${rebootIp}"]`);
  await page.waitForSelector('#miner-hashrate canvas');
  await page.waitForSelector('#miner-temps canvas');
  const historyPoints = await page.evaluate(() => state.charts['miner-hashrate'].data[0].length);
  check(historyPoints >= 1, `miner history points: ${historyPoints}`);
  await page.click('#do-reboot');
  await page.waitForFunction(() => /HTTP \d+/.test(document.getElementById('action-result').textContent));
  const result = await page.textContent('#action-result');
  check(/rebooting \(HTTP 202\)/.test(result), `reboot result shown: '${result}'`);
  check(dialogs.join(',') === 'prompt,confirm', `dialogs: ${dialogs.join(',')}`);
  // Signed in with the key given at the prompt (CONTROL_TOKEN: the admin "token").
  await page.waitForFunction(() => document.getElementById('who').textContent.includes('('));
  const who = await page.textContent('#who');
  check(who === 'token (admin)', `signed in as '${who}'`);
  check(!(await page.locator('#do-pool').isHidden()), 'an admin sees Change pool');

  if (process.env.ASICMON_SCREENSHOT) {
    await page.screenshot({ path: process.env.ASICMON_SCREENSHOT, fullPage: true });
  }
  console.log(`dashboard: ${expectedCount} miners, ${deadIp} ${deadHealth}, ${sleepIp} ${sleepHealth}, ` +
              `farm chart ${farmPoints.length} points, reboot: ${result}`);
} catch (e) {
  failures.push(String(e));
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
