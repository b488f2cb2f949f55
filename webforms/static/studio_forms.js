// Studio panel: forms. Edit one of the draft's form files and see it drawn by the task page's own
// renderer (POST form-preview with the draft); selecting a user task opens the form it names. Edited
// forms go into the draft's `draft_files` (path to text), so validating, trying and deploying use them.
(function () {
  var panel = document.querySelector('[data-testid="studio-forms"]');
  var modeler = window.dhrModeler;
  var studio = window.dhrStudio;
  if (!panel || !modeler || !studio) { return; }
  var picker = document.getElementById('studio-form-file');
  var note = document.getElementById('studio-form-note');
  var editor = document.getElementById('studio-form-text');
  var answers = document.getElementById('studio-form-answers');
  var check = document.getElementById('studio-form-check');
  var preview = document.getElementById('studio-form-preview');
  var drafts = document.getElementById('draft-files');
  var path = panel.getAttribute('data-path');
  var current = '';
  var timer = null;
  var asked = 0;

  function edited() {
    try { return JSON.parse(drafts.value || '{}'); } catch (e) { return {}; }
  }

  // posixpath.normpath(join(dirname(diagram), reference)), as the engine resolves a form reference
  function resolve(reference) {
    var parts = path.split('/').slice(0, -1).concat(reference.split('/'));
    var out = [];
    parts.forEach(function (part) {
      if (part === '..') { out.pop(); } else if (part && part !== '.') { out.push(part); }
    });
    return out.join('/');
  }

  // The form a user task names: its spiffworkflow property formJsonSchemaFilename, however the
  // modeler read the extension (as generic elements, or typed if a moddle extension is loaded).
  function formOf(element) {
    var bo = element && element.businessObject;
    if (!bo || bo.$type !== 'bpmn:UserTask') { return null; }
    var found = null;
    (function walk(node, depth) {
      if (!node || typeof node !== 'object' || found || depth > 6) { return; }
      var attrs = node.$attrs || {};
      var name = node.name || attrs.name;
      var value = node.value || attrs.value;
      if (name === 'formJsonSchemaFilename' && value) { found = value; return; }
      ['values', '$children', 'properties'].forEach(function (key) {
        if (Array.isArray(node[key])) { node[key].forEach(function (c) { walk(c, depth + 1); }); }
      });
    })(bo.extensionElements, 0);
    return found;
  }

  // A message next to its box (GOV.UK error message), or none.
  function flag(name, message) {
    var group = document.getElementById('studio-form-' + name + '-group');
    var box = document.getElementById('studio-form-' + name);
    var error = document.getElementById('studio-form-' + name + '-error');
    error.hidden = !message;
    error.textContent = message ? 'Error: ' + message : '';
    group.classList.toggle('govuk-form-group--error', !!message);
    box.classList.toggle('govuk-textarea--error', !!message);
    if (message) { box.setAttribute('aria-describedby', error.id); } else { box.removeAttribute('aria-describedby'); }
    if (name === 'answers') {
      box.setAttribute('aria-describedby', (message ? error.id + ' ' : '') + 'studio-form-answers-hint');
    }
  }

  function show(html, state) {
    preview.innerHTML = html;
    preview.setAttribute('data-state', state);
    var problems = Array.prototype.slice.call(preview.querySelectorAll('[data-testid="preview-problem"]'));
    var of = function (file) {
      var found = problems.filter(function (p) { return (p.getAttribute('data-file') === 'example answers') === (file === 'answers'); });
      return found.length ? found[0].textContent : '';
    };
    flag('text', of('text'));
    flag('answers', of('answers'));
  }

  function refresh(withAnswers) {
    if (!current) { return Promise.resolve(); }
    var mine = ++asked;
    preview.setAttribute('data-state', 'loading');
    return studio.draft().then(function (data) {
      data.append('form', current);
      if (withAnswers) {
        data.append('check', '1');
        data.append('answers', answers.value);
      }
      return fetch(panel.getAttribute('data-preview-url'), { method: 'POST', body: data, credentials: 'same-origin' });
    }).then(function (response) {
      return response.text().then(function (html) {
        if (mine !== asked) { return; }  // a later edit asked again
        if (response.status === 200 || response.status === 400) {
          show(html, response.ok ? (withAnswers ? 'checked' : 'ready') : 'invalid');
        } else {
          show('<p class="govuk-body">The preview could not be drawn (the server answered ' + response.status + ').</p>', 'failed');
        }
      });
    }).catch(function (err) {
      if (mine === asked) {
        preview.textContent = 'The preview could not be drawn: ' + err.message;
        preview.setAttribute('data-state', 'failed');
      }
    });
  }

  function open(formPath) {
    current = formPath;
    picker.value = formPath;
    editor.disabled = true;
    if (!formPath) { return Promise.resolve(); }
    var draft = edited();
    var text = Object.prototype.hasOwnProperty.call(draft, formPath) ? Promise.resolve(draft[formPath])
      : fetch(panel.getAttribute('data-file-url') + '?path=' + encodeURIComponent(formPath),
              { credentials: 'same-origin' }).then(function (r) { return r.text(); });
    return text.then(function (value) {
      if (current !== formPath) { return; }
      editor.value = value;
      editor.disabled = false;
      panel.setAttribute('data-form', formPath);
      return refresh(false);
    });
  }

  editor.addEventListener('input', function () {
    var draft = edited();
    draft[current] = editor.value;
    drafts.value = JSON.stringify(draft);
    document.dispatchEvent(new CustomEvent('dhr-draft-changed', { detail: { path: current } }));
    clearTimeout(timer);
    preview.setAttribute('data-state', 'loading');
    timer = setTimeout(function () { refresh(false); }, 400);
  });
  picker.addEventListener('change', function () {
    note.hidden = true;
    open(picker.value);
  });
  check.addEventListener('click', function () { refresh(true); });

  modeler.on('selection.changed', function (event) {
    var element = event.newSelection.length === 1 ? event.newSelection[0] : null;
    var reference = formOf(element);
    if (!reference) { return; }
    var formPath = resolve(reference);
    var known = Array.prototype.some.call(picker.options, function (o) { return o.value === formPath; });
    note.hidden = false;
    if (!known) {
      note.textContent = 'The selected task names the form ' + formPath + ', which is not a file of this version.';
      return;
    }
    note.textContent = 'The form of the selected task, ' + (element.businessObject.name || element.id) + '.';
    if (formPath !== current) { open(formPath); }
  });
  window.dhrForms = { open: open, refresh: refresh };
})();
