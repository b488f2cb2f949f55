// Draw a BPMN file with bpmn-js and mark the elements the case has done and is doing now.
(function () {
  var box = document.getElementById('diagram');
  if (!box) { return; }
  var viewer = new BpmnJS({ container: box });
  var marks = JSON.parse(box.getAttribute('data-marks') || '{}');
  var source = box.getAttribute('data-xml-url');
  var inline = document.getElementById('diagram-xml');
  var load = inline ? Promise.resolve(inline.value) : fetch(source, { credentials: 'same-origin' }).then(function (r) {
    if (!r.ok) { throw new Error('The diagram could not be loaded.'); }
    return r.text();
  });
  load.then(function (xml) { return viewer.importXML(xml); }).then(function () {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    canvas.zoom('fit-viewport');
    Object.keys(marks.completed || {}).forEach(function (id) {
      if (!registry.get(id)) { return; }
      canvas.addMarker(id, 'dhr-completed');
      var count = document.createElement('span');
      count.className = 'dhr-count';
      count.textContent = String(marks.completed[id]);
      overlays.add(id, { position: { top: -10, right: 10 }, html: count });
    });
    (marks.current || []).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, 'dhr-current'); }
    });
    box.setAttribute('data-ready', 'true');
  }).catch(function (err) {
    box.textContent = 'The diagram could not be drawn: ' + err.message;
    box.setAttribute('data-ready', 'error');
  });
})();
