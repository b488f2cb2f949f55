// Studio panel: problems. "Validate" posts the draft to the engine's checks (nothing is deployed) and
// lints the diagram with bpmnlint's rules (window.dhrLint, bundled from .bpmnlintrc); every problem is a
// marker on its element and a link in the list that selects and centres it. While any is an error,
// "Save and deploy" is off (the server refuses such a draft anyway).
(function () {
  var panel = document.querySelector('[data-testid="studio-problems"]');
  var modeler = window.dhrModeler;
  var studio = window.dhrStudio;
  if (!panel || !modeler || !studio) { return; }
  var button = document.getElementById('studio-validate');
  var status = document.getElementById('studio-problems-status');
  var list = document.getElementById('studio-problems-list');
  var deploy = studio.form.querySelector('[data-testid="deploy"]');
  var path = panel.getAttribute('data-path');
  var engineProblems = [];  // from the last validation, until the next one
  var lintProblems = [];
  var validated = false;
  var changed = false;  // the draft changed since it was validated
  var marked = [];  // [element id, marker class, overlay id]

  function text(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content) { node.textContent = content; }
    return node;
  }

  // The drawn element of a BPMN id (a shape's own id is nearly always its element's).
  function shape(id) {
    if (!id) { return null; }
    var registry = modeler.get('elementRegistry');
    return registry.get(id) || registry.find(function (e) {
      return e.businessObject && e.businessObject.id === id && !e.labelTarget;
    }) || null;
  }

  // The element a problem is about, if this diagram draws it (a form's problem names the task using it).
  function onCanvas(problem) {
    if (!problem.element) { return null; }
    if (problem.file && problem.file !== path && !/\.json$/.test(problem.file)) { return null; }
    return shape(problem.element);
  }

  function centre(element) {
    var canvas = modeler.get('canvas');
    var box = canvas.viewbox();
    var x, y;
    if (element.waypoints) {
      var xs = element.waypoints.map(function (p) { return p.x; });
      var ys = element.waypoints.map(function (p) { return p.y; });
      x = (Math.min.apply(null, xs) + Math.max.apply(null, xs)) / 2;
      y = (Math.min.apply(null, ys) + Math.max.apply(null, ys)) / 2;
    } else {
      x = element.x + (element.width || 0) / 2;
      y = element.y + (element.height || 0) / 2;
    }
    // at least full size, so the element can be read even on a phone
    var scale = Math.max(box.scale || 1, 1);
    var width = box.outer.width / scale, height = box.outer.height / scale;
    canvas.viewbox({ x: x - width / 2, y: y - height / 2, width: width, height: height });
  }

  function select(id) {
    var element = shape(id);
    if (!element) { return; }
    modeler.get('selection').select(element);
    centre(element);
    document.getElementById('modeler').scrollIntoView({ block: 'nearest' });
  }

  function clearMarks() {
    var canvas = modeler.get('canvas');
    var overlays = modeler.get('overlays');
    marked.forEach(function (mark) {
      if (shape(mark[0])) { canvas.removeMarker(mark[0], mark[1]); }
    });
    overlays.remove({ type: 'dhr-problem' });
    marked = [];
  }

  function mark(problems) {
    clearMarks();
    var canvas = modeler.get('canvas');
    var overlays = modeler.get('overlays');
    var byElement = {};
    problems.forEach(function (p) {
      var element = onCanvas(p);
      if (!element) { return; }
      var seen = byElement[element.id] || (byElement[element.id] = { errors: 0, warnings: 0 });  // the shape's id
      if (p.severity === 'error') { seen.errors += 1; } else { seen.warnings += 1; }
    });
    Object.keys(byElement).forEach(function (id) {
      var count = byElement[id];
      var kind = count.errors ? 'error' : 'warning';
      canvas.addMarker(id, 'dhr-problem-' + kind);
      var badge = text('span', 'dhr-problem-badge dhr-problem-badge--' + kind,
                       String(count.errors + count.warnings));
      badge.setAttribute('aria-hidden', 'true');
      badge.setAttribute('data-testid', 'problem-marker-' + id);
      var element = shape(id);
      var position = element.waypoints ? { top: -12, left: -12 } : { top: -10, right: 10 };
      overlays.add(id, 'dhr-problem', { position: position, html: badge });
      marked.push([id, 'dhr-problem-' + kind]);
    });
  }

  function item(problem) {
    var li = text('li', null, null);
    li.setAttribute('data-testid', 'problem-item');
    li.setAttribute('data-element', problem.element || '');
    li.setAttribute('data-severity', problem.severity);
    var where = problem.file && problem.file !== path ? problem.file : '';
    if (problem.line) { where += (where ? ', ' : '') + 'line ' + problem.line; }
    var label = (problem.element ? problem.element + ': ' : '') + problem.message +
      (problem.rule ? ' (bpmnlint: ' + problem.rule + ')' : '') + (where ? ' [' + where + ']' : '');
    var element = onCanvas(problem);
    if (element) {
      var link = text('a', 'govuk-link', label);
      link.href = '#modeler';
      link.addEventListener('click', function (event) {
        event.preventDefault();
        select(element.id);
      });
      li.appendChild(link);
    } else {
      li.textContent = label;
    }
    return li;
  }

  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  function render() {
    var problems = engineProblems.concat(lintProblems);
    var errors = problems.filter(function (p) { return p.severity === 'error'; });
    var warnings = problems.filter(function (p) { return p.severity !== 'error'; });
    mark(problems);
    list.textContent = '';
    if (errors.length) {
      var summary = text('div', 'govuk-error-summary', null);
      summary.setAttribute('data-testid', 'problems-errors');
      var body = text('div', 'govuk-error-summary__body', null);
      var ul = text('ul', 'govuk-list govuk-error-summary__list', null);
      errors.forEach(function (p) { ul.appendChild(item(p)); });
      summary.appendChild(text('h3', 'govuk-error-summary__title', 'There ' + (errors.length === 1 ? 'is ' : 'are ') +
        plural(errors.length, 'error') + ': fix ' + (errors.length === 1 ? 'it' : 'them') + ' before deploying'));
      body.appendChild(ul);
      summary.appendChild(body);
      list.appendChild(summary);
    }
    if (warnings.length) {
      var box = text('div', 'govuk-inset-text dhr-problem-warnings', null);
      box.setAttribute('data-testid', 'problems-warnings');
      box.appendChild(text('h3', 'govuk-heading-s', plural(warnings.length, 'warning') + ' (deploying is allowed)'));
      var wl = text('ul', 'govuk-list govuk-list--bullet', null);
      warnings.forEach(function (p) { wl.appendChild(item(p)); });
      box.appendChild(wl);
      list.appendChild(box);
    }
    var message;
    if (!validated) {
      message = 'Validate to check the diagram and its forms as deploying would, without deploying them.';
    } else if (errors.length) {
      message = plural(errors.length, 'error') + (warnings.length ? ' and ' + plural(warnings.length, 'warning') : '') +
        ' found. Deploying is off until the errors are fixed and the draft validated again.';
    } else {
      message = 'No errors found' + (warnings.length ? ' (' + plural(warnings.length, 'warning') + ')' : '') +
        '. You can deploy.';
    }
    if (validated && changed) { message += ' The draft has changed since: validate again.'; }
    status.textContent = message;
    panel.setAttribute('data-errors', String(errors.length));
    panel.setAttribute('data-warnings', String(warnings.length));
    if (deploy) {
      var off = errors.length > 0;
      deploy.disabled = off;
      deploy.setAttribute('aria-disabled', off ? 'true' : 'false');
      deploy.classList.toggle('govuk-button--disabled', off);
      if (off) { deploy.setAttribute('aria-describedby', 'studio-problems-status'); }
      else { deploy.removeAttribute('aria-describedby'); }
    }
  }

  function lint() {
    if (!window.dhrLint) { return Promise.resolve([]); }  // the bundle is built by `make setup`
    return window.dhrLint(modeler.getDefinitions()).catch(function () { return []; });
  }

  function validate() {
    button.disabled = true;
    panel.setAttribute('data-state', 'checking');
    status.textContent = 'Checking…';
    return studio.draft().then(function (data) {
      return Promise.all([
        fetch(panel.getAttribute('data-validate-url'), {
          method: 'POST', body: data, credentials: 'same-origin', headers: { Accept: 'application/json' }
        }).then(function (response) {
          if (!response.ok) { throw new Error('the server answered ' + response.status); }
          return response.json();
        }),
        lint()
      ]);
    }).then(function (results) {
      engineProblems = results[0].problems;
      lintProblems = results[1];
      validated = true;
      changed = false;
      render();
      panel.setAttribute('data-state', 'done');
      if (engineProblems.length || lintProblems.length) { list.focus(); }
    }).catch(function (err) {
      status.textContent = 'The draft could not be checked (' + err.message + '). Try again.';
      panel.setAttribute('data-state', 'failed');
    }).then(function () { button.disabled = false; });
  }

  button.addEventListener('click', validate);
  // A draft the server refused to deploy comes back with its problems: mark them as a validation would.
  var refused = JSON.parse(panel.getAttribute('data-problems') || '[]');
  function showRefused() {
    if (!refused.length) { return; }
    engineProblems = refused.map(function (p) {
      return { file: p.file, element: p.element, line: p.line, message: p.message, severity: 'error' };
    });
    refused = [];  // once: a later import (the XML edited by hand) keeps what was validated since
    validated = true;
    render();
  }
  if (document.getElementById('modeler').getAttribute('data-ready') === 'true') { showRefused(); }
  else { modeler.on('import.done', showRefused); }
  // Once validated, the lint follows every change; the engine's findings wait for the next validation.
  function edited() {
    if (!validated) { return; }
    changed = true;
    lint().then(function (found) { lintProblems = found; render(); });
  }
  modeler.on('commandStack.changed', edited);
  document.addEventListener('dhr-draft-changed', edited);
  studio.form.addEventListener('submit', function (event) {
    if (deploy && deploy.disabled) { event.preventDefault(); }
  });
  window.dhrProblems = { validate: validate };
})();
