// A report page as a person sees it: Debian's Chromium, headless, driven by Playwright
// (no browser download). Returns the visible text of the page's parts.
import { chromium } from '@playwright/test';

export const CHROMIUM = '/usr/bin/chromium';

export async function visibleParts(file: string, selectors: readonly string[]): Promise<Record<string, string>> {
  // --no-sandbox: we run as root, which Chromium's sandbox refuses; the page is our own file.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(`file://${file}`);
    const out: Record<string, string> = {};
    for (const s of selectors) {
      const loc = page.locator(s);
      out[s] = (await loc.count()) && (await loc.first().isVisible()) ? await loc.first().innerText({ timeout: 5_000 }) : '';
    }
    return out;
  } finally {
    await browser.close();
  }
}
