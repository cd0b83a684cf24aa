import type { Locator, Page } from '@playwright/test';

/**
 * Where a test's screenshots go: docs/screenshots/ (the README's pictures) when SCREENSHOTS=1,
 * test-reports/screenshots/ otherwise, so an ordinary test run leaves the working tree alone.
 */
export const SHOTS_DIR = process.env.SCREENSHOTS === '1' ? 'docs/screenshots' : 'test-reports/screenshots';

/** A whole page (full height), or one element. */
export function shot(target: Page | Locator, name: string): Promise<Buffer> {
  const path = `${SHOTS_DIR}/${name}.png`;
  return 'goto' in target ? target.screenshot({ path, fullPage: true }) : target.screenshot({ path });
}
