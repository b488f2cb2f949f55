// GOV.UK conditional reveal for any question: a `[data-reveal-name]` block is shown only while the
// question it depends on has one of `data-reveal-values` chosen. Without JavaScript every block is
// shown, and the server ignores the answers to questions that do not apply.
for (const block of document.querySelectorAll('[data-reveal-name]')) {
  const form = block.closest('form')
  const name = block.dataset.revealName
  const values = JSON.parse(block.dataset.revealValues)
  const sync = () => {
    const chosen = Array.from(form.elements)
      .filter((el) => el.name === name && (el.tagName === 'SELECT' || el.checked))
      .map((el) => el.value)
    block.classList.toggle('govuk-radios__conditional--hidden', !chosen.some((v) => values.includes(v)))
  }
  form.addEventListener('change', (event) => { if (event.target.name === name) sync() })
  sync()
}
