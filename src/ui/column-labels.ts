/**
 * Tables stack into one column where the page is narrow (a projector at the largest text size;
 * app.css, "narrow pages"). Stacked, a value needs its column's name beside it: this attachment
 * copies each column header into its cells' `data-label`, which the stacked layout shows before
 * the value, and keeps it current as rows come and go. Row headers and columns whose header is
 * only for screen readers get none.
 */
export function columnLabels(table: HTMLTableElement): () => void {
  const label = () => {
    const heads = [...(table.tHead?.rows[0]?.cells ?? [])].map(visibleText);
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let column = 0;
        for (const cell of row.cells) {
          const head = cell.tagName === 'TD' ? heads[column] : '';
          if (head && cell.dataset.label !== head) cell.dataset.label = head;
          column += cell.colSpan;
        }
      }
    }
  };
  label();
  const watch = new MutationObserver(label);
  watch.observe(table, { childList: true, subtree: true });
  return () => watch.disconnect();
}

/** A header's text as seen on screen (an `.sr-only` name is not). */
function visibleText(cell: HTMLTableCellElement): string {
  const copy = cell.cloneNode(true) as HTMLElement;
  for (const hidden of copy.querySelectorAll('.sr-only')) hidden.remove();
  return copy.textContent?.trim() ?? '';
}
