// Prints a section of rows as a fixed-width text table (also readable as Markdown).

/**
 * Print `rows` (arrays of cells) under `header`, with a `### title` line before it. Cells are
 * strings; columns are padded to their widest cell.
 */
export function printTable(title, header, rows) {
  const all = [header, ...rows].map((r) => r.map(String))
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)))
  const line = (r) => `| ${r.map((cell, c) => (cell ?? '').padEnd(widths[c])).join(' | ')} |`
  console.log(`\n### ${title}\n`)
  console.log(line(all[0]))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const r of all.slice(1)) console.log(line(r))
}
