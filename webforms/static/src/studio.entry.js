// The studio's bundle (built by `make setup` with esbuild into node_modules/.dhr-build/): bpmn-js's
// modeler with the properties panel, our moddle extension for the `spiffworkflow:` elements the engine
// reads, and our provider that edits them.
import Modeler from 'bpmn-js/lib/Modeler';
import { debounce } from 'min-dash';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import SpiffPropertiesProvider from './spiff_properties.jsx';
import spiffworkflow from './spiffworkflow.json';
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';

const SpiffPropertiesModule = {
  __init__: ['spiffPropertiesProvider'],
  spiffPropertiesProvider: ['type', SpiffPropertiesProvider]
};

// The panel's typing is debounced; saving first flushes what is still waiting, so no edit is lost.
const waiting = new Set();
const FlushableDebounceModule = {
  debounceInput: ['factory', function () {
    return function (fn) {
      const debounced = debounce(fn, 300);
      waiting.add(debounced);
      return debounced;
    };
  }]
};

function flushEdits() {
  waiting.forEach((debounced) => debounced.flush());
}

const OPEN = Object.fromEntries(['dhr-task', 'dhr-script-group', 'dhr-timer', 'dhr-condition', 'dhr-conditions', 'dhr-message']
  .map((id) => [id, { open: true }]));

// A modeler with the panel in `panel` (an element or selector).
function createModeler(container, panel) {
  return new Modeler({
    container,
    // Our groups open, bpmn-js's own (name and id, documentation...) closed until asked for.
    propertiesPanel: { parent: panel, layout: { groups: OPEN } },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, SpiffPropertiesModule,
      FlushableDebounceModule],
    moddleExtensions: { spiffworkflow }
  });
}

window.DhrStudio = { createModeler, flushEdits, spiffworkflow, Modeler };
