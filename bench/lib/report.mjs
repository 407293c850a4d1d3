/** Formatting of printed benchmark reports. */

/** `n` with `digits` decimals; `n/a` when undefined or NaN. */
export const fixed = (n, digits) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));

/** A fraction as a whole percentage; `n/a` when undefined. */
export const percent = (n) => (n === undefined ? 'n/a' : `${(n * 100).toFixed(0)}%`);

/** A plain-text table: the first row is the header, the first column left-aligned, the others right-aligned. */
export function table(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)));
  const line = (row) =>
    row.map((cell, column) => String(cell)[column === 0 ? 'padEnd' : 'padStart'](widths[column])).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
