import { initAll } from '/vendor/govuk-frontend/govuk-frontend.min.js'
import './reveal.js'
initAll()

// On a phone each row of a table stacks, every cell under its column's heading (dhr.css), so no
// page is wider than the screen. A table whose cells span columns keeps its grid and scrolls in
// its own box instead.
for (const table of document.querySelectorAll('table.govuk-table')) {
  const headings = [...table.querySelectorAll(':scope > thead th')].map(th => th.textContent.trim())
  if (!headings.length || table.querySelector('[colspan], [rowspan]')) continue
  for (const row of table.querySelectorAll(':scope > tbody > tr')) {
    [...row.children].forEach((cell, i) => {
      if (headings[i]) cell.dataset.label = headings[i]
      if (!cell.textContent.trim() && !cell.children.length) cell.classList.add('dhr-empty')  // no "Claimed by:" alone
    })
  }
  table.classList.add('dhr-stacked')
}
