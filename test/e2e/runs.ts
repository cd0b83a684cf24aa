// Steps several e2e specs share (not a spec itself: Playwright runs *.spec.ts only).
import { expect, type Page } from '@playwright/test';

/** Creates a run with the Paper (SPaR defaults) preset from the start page and opens its Setup. */
export async function paperRun(page: Page, name: string) {
  await page.goto('/');
  await page.getByLabel('New run').fill(name);
  await page.getByLabel('Preset').selectOption('paper');
  await page.getByLabel('New run').press('Enter');
  await page.getByTestId('run-row').filter({ hasText: name }).getByRole('button', { name: `Open ${name}` }).click();
  await expect(page.getByRole('tab', { name: /Setup/ })).toHaveAttribute('aria-selected', 'true');
}
