// Studio panel "Try it": posts the draft (window.dhrStudio.draft()) to /processes/<id>/trial, shows the timeline
// and marks on the diagram the elements the trial went through; a row, hovered or chosen, highlights its element.
(function () {
  var panel = document.querySelector('[data-testid="trial-panel"]');
  if (!panel || !window.dhrStudio) { return; }
  var button = panel.querySelector('[data-testid="trial-run"]');
  var results = panel.querySelector('[data-testid="trial-results"]');
  var status = panel.querySelector('[data-testid="trial-status"]');
  var marked = [];
  var current = null;

  function canvas() { return window.dhrModeler && window.dhrModeler.get('canvas'); }
  function known(id) { return id && window.dhrModeler && window.dhrModeler.get('elementRegistry').get(id); }

  function unmark() {
    var c = canvas();
    marked.forEach(function (id) { if (known(id)) { c.removeMarker(id, 'dhr-trial-passed'); } });
    marked = [];
    highlight(null);
  }

  function highlight(row) {
    var c = canvas();
    if (current) {
      if (known(current.id)) { c.removeMarker(current.id, 'dhr-trial-current'); }
      current.row.classList.remove('dhr-trial-row--current');
    }
    current = null;
    if (!row) { return; }
    var id = row.getAttribute('data-element');
    row.classList.add('dhr-trial-row--current');
    current = { id: id, row: row };
    if (known(id)) { c.addMarker(id, 'dhr-trial-current'); }
  }

  function show(html) {
    unmark();
    results.innerHTML = html;
    var result = results.querySelector('[data-testid="trial-result"]');
    var passed = (result && result.getAttribute('data-passed') || '').split(' ');
    passed.forEach(function (id) { if (known(id)) { canvas().addMarker(id, 'dhr-trial-passed'); marked.push(id); } });
    results.querySelectorAll('[data-testid="trial-event"][data-element]').forEach(function (row) {
      if (!row.getAttribute('data-element')) { return; }
      row.addEventListener('mouseenter', function () { highlight(row); });
      row.addEventListener('focus', function () { highlight(row); });
      row.addEventListener('click', function () { highlight(row); });
    });
  }

  button.addEventListener('click', function () {
    button.disabled = true;
    panel.setAttribute('data-state', 'running');
    status.textContent = 'Running the trial…';
    window.dhrStudio.draft().then(function (data) {
      data.append('until', panel.querySelector('[name="until"]').value);
      data.append('trial_data', panel.querySelector('[name="trial_data"]').value);
      return fetch(panel.getAttribute('data-url'), {
        method: 'POST', body: data, credentials: 'same-origin', headers: { 'Accept': 'text/html' }
      });
    }).then(function (response) {
      return response.text().then(function (html) {
        show(html);
        status.textContent = response.ok ? 'The trial has run: its timeline is below.' : 'The trial could not run: see below.';
      });
    }).catch(function () {
      status.textContent = 'The trial could not be run (the server did not answer). Try again.';
    }).then(function () {
      button.disabled = false;
      panel.setAttribute('data-state', 'done');
    });
  });
})();
