// The studio: bpmn-js's modeler with the properties panel (the bundle's DhrStudio) edits the diagram; the
// read-only XML box follows every change and is what every studio action posts.
(function () {
  var box = document.getElementById('modeler');
  var form = document.getElementById('modeler-form');
  var field = document.getElementById('xml');
  var panel = document.getElementById('properties-panel');
  if (!box || !form || !field) { return; }
  if (!window.DhrStudio) {  // the bundle is missing (not built: `make setup`): the XML is the only way to edit
    field.removeAttribute('readonly');
    box.textContent = 'The modeler is not available here (its bundle is not built). Edit the XML below.';
    box.setAttribute('data-ready', 'error');
    return;
  }
  var modeler = window.DhrStudio.createModeler(box, panel || undefined);
  var READABLE = 0.7;  // below this zoom, labels cannot be read: show the diagram's start at this zoom instead

  // Fit the diagram if it can be read that way; else start at its top left, readable. Either way the
  // diagram starts right of the palette, so the palette never hides the pool's and lanes' labels.
  function readableView() {
    var canvas = modeler.get('canvas');
    canvas.zoom('fit-viewport');
    var view = canvas.viewbox();
    var palette = box.querySelector('.djs-palette');
    var gap = palette ? palette.getBoundingClientRect().right - box.getBoundingClientRect().left + 12 : 0;
    var scale = Math.min(Math.max(view.scale, 0.2), 1);
    if (view.scale < READABLE) { scale = READABLE; }
    var inner = view.inner;
    // Fit again, leaving the palette's width free on the left.
    var fit = Math.min((view.outer.width - gap - 20) / inner.width, (view.outer.height - 40) / inner.height, 1);
    if (fit >= READABLE) { scale = fit; }
    canvas.viewbox({
      x: inner.x - gap / scale,
      y: inner.y - 20 / scale,
      width: view.outer.width / scale,
      height: view.outer.height / scale
    });
  }

  function sync() {
    window.DhrStudio.flushEdits();  // what is still being typed in the panel goes in first
    form.setAttribute('data-synced', 'false');
    return modeler.saveXML({ format: true }).then(function (result) {
      field.value = result.xml;
      form.setAttribute('data-synced', 'true');
      return result.xml;
    });
  }

  modeler.importXML(field.value).then(function () {
    readableView();
    box.setAttribute('data-ready', 'true');
  }).catch(function (err) {
    // XML the modeler cannot draw: the box becomes editable, the only way left to fix it.
    field.removeAttribute('readonly');
    box.textContent = 'The modeler cannot draw this XML (' + err.message + '). Fix it in the text box below, then save.';
    box.setAttribute('data-ready', 'error');
  });
  // (a listener that returns a value stops the event in diagram-js: the other panels must hear it too)
  modeler.on('commandStack.changed', function () { sync(); });
  modeler.on('selection.changed', function (event) {
    var selected = event.newSelection.length === 1 ? event.newSelection[0].id : '';
    box.setAttribute('data-selected', selected);
  });
  // Saving posts the XML as the modeler has it, with the panel's last keystrokes in it.
  form.addEventListener('submit', function (event) {
    if (box.getAttribute('data-ready') !== 'true' || form.getAttribute('data-posting') === 'true') { return; }
    event.preventDefault();
    sync().then(function () {
      form.setAttribute('data-posting', 'true');
      form.submit();
    });
  });
  window.dhrModeler = modeler;
  // What every studio action (validate, try, deploy) posts: the form's fields, the XML as the modeler has it.
  window.dhrStudio = {
    form: form,
    draft: function () {
      if (box.getAttribute('data-ready') !== 'true') { return Promise.resolve(new FormData(form)); }
      return sync().then(function () { return new FormData(form); });
    },
    // Scroll the element `id` into the middle of the canvas (for a person: after a problem is named).
    reveal: function (id) {
      var element = modeler.get('elementRegistry').get(id);
      if (element) { modeler.get('canvas').scrollToElement(element, { top: 120, bottom: 120, left: 160, right: 160 }); }
      return element || null;
    }
  };
})();
