// The bpmn-js modeler edits the XML in the form's textarea; saving posts it to be validated and deployed.
(function () {
  var box = document.getElementById('modeler');
  var form = document.getElementById('modeler-form');
  var field = document.getElementById('xml');
  if (!box || !form || !field) { return; }
  var modeler = new BpmnJS({ container: box });
  modeler.importXML(field.value).then(function () {
    modeler.get('canvas').zoom('fit-viewport');
    box.setAttribute('data-ready', 'true');
  }).catch(function (err) {
    // Malformed XML: the textarea still holds it, to be fixed by hand and saved.
    box.textContent = 'The modeler cannot draw this XML (' + err.message + '). Fix it in the text box below.';
    box.setAttribute('data-ready', 'error');
  });
  modeler.on('commandStack.changed', function () {
    form.setAttribute('data-synced', 'false');
    modeler.saveXML({ format: true }).then(function (result) {
      field.value = result.xml;
      form.setAttribute('data-synced', 'true');
    });
  });
  window.dhrModeler = modeler;
  // What every studio action (validate, try, deploy) posts: the form's fields, the XML as the modeler has it.
  window.dhrStudio = {
    form: form,
    draft: function () {
      return modeler.saveXML({ format: true }).then(function (result) {
        field.value = result.xml;
        return new FormData(form);
      });
    }
  };
  // The textarea follows every change (above), so the form posts what the modeler shows.
})();
