// The studio's own properties: what the DHR engine reads from a diagram, each edited as one undoable
// command, so the canvas, the panel and the XML box never disagree.
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { useService } from 'bpmn-js-properties-panel';
import {
  TextFieldEntry, TextAreaEntry, SelectEntry, isTextFieldEntryEdited, isTextAreaEntryEdited, isSelectEntryEdited
} from '@bpmn-io/properties-panel';
import { useEffect, useState } from '@bpmn-io/properties-panel/preact/hooks';

const SPIFF = 'spiffworkflow:';

// The page's settings (data attributes of #modeler): form files of the version, sandbox helpers, URLs.
function config() {
  const box = document.getElementById('modeler');
  const read = (name, fallback) => {
    try { return JSON.parse(box.getAttribute('data-' + name) || 'null') || fallback; } catch (e) { return fallback; }
  };
  return {
    formFiles: read('form-files', []),
    helpers: read('helpers', []),
    timerExampleUrl: box.getAttribute('data-timer-example-url') || ''
  };
}

// ---- reading and writing extension elements ----

function extensionValues(bo) {
  const ext = bo.get('extensionElements');
  return ext ? ext.get('values') : [];
}

function findExtension(bo, type) {
  return extensionValues(bo).find((value) => is(value, SPIFF + type));
}

function getProperty(bo, name) {
  const props = findExtension(bo, 'Properties');
  const prop = props && props.get('properties').find((p) => p.name === name);
  return prop ? prop.value : undefined;
}

function getBody(bo, type) {
  const found = findExtension(bo, type);
  return found ? found.value : undefined;
}

function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

// The commands that give `bo` an extensionElements (if it lacks one), as [commands, extensionElements].
function ensureExtensions(element, bo, bpmnFactory) {
  let ext = bo.get('extensionElements');
  if (ext) { return [[], ext]; }
  ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
  ext.$parent = bo;
  return [[update(element, bo, { extensionElements: ext })], ext];
}

function run(commandStack, commands) {
  if (commands.length) { commandStack.execute('properties-panel.multi-command-executor', commands); }
}

function setProperty(element, bo, name, value, { bpmnFactory, commandStack }) {
  const commands = [];
  const cleaned = (value || '').trim() ? value : undefined;
  let props = findExtension(bo, 'Properties');
  if (!props) {
    if (cleaned === undefined) { return; }
    const [extCommands, ext] = ensureExtensions(element, bo, bpmnFactory);
    commands.push(...extCommands);
    props = bpmnFactory.create(SPIFF + 'Properties', { properties: [] });
    props.$parent = ext;
    commands.push(update(element, ext, { values: [...ext.get('values'), props] }));
  }
  const list = props.get('properties');
  const prop = list.find((p) => p.name === name);
  if (cleaned === undefined) {
    if (prop) { commands.push(update(element, props, { properties: list.filter((p) => p !== prop) })); }
  } else if (prop) {
    commands.push(update(element, prop, { value: cleaned }));
  } else {
    const created = bpmnFactory.create(SPIFF + 'Property', { name, value: cleaned });
    created.$parent = props;
    commands.push(update(element, props, { properties: [...list, created] }));
  }
  run(commandStack, commands);
}

function setBody(element, bo, type, value, { bpmnFactory, commandStack }) {
  const commands = [];
  const cleaned = (value || '').trim() ? value : undefined;
  const found = findExtension(bo, type);
  if (found) {
    const ext = bo.get('extensionElements');
    commands.push(cleaned === undefined
      ? update(element, ext, { values: ext.get('values').filter((v) => v !== found) })
      : update(element, found, { value: cleaned }));
  } else if (cleaned !== undefined) {
    const [extCommands, ext] = ensureExtensions(element, bo, bpmnFactory);
    commands.push(...extCommands);
    const created = bpmnFactory.create(SPIFF + type, { value: cleaned });
    created.$parent = ext;
    commands.push(update(element, ext, { values: [...ext.get('values'), created] }));
  }
  run(commandStack, commands);
}

function services() {
  return {
    bpmnFactory: useService('bpmnFactory'),
    commandStack: useService('commandStack'),
    debounce: useService('debounceInput'),
    translate: useService('translate')
  };
}

// ---- entries ----

function PropertyField(props) {
  const { element, id, name, label, description, area, monospace } = props;
  const s = services();
  const bo = getBusinessObject(element);
  const Entry = area ? TextAreaEntry : TextFieldEntry;
  return <Entry element={element} id={id} label={label} description={description} debounce={s.debounce}
    monospace={monospace} rows={area ? 3 : undefined}
    getValue={() => getProperty(bo, name) || ''}
    setValue={(value) => setProperty(element, bo, name, value, s)} />;
}

function BodyField(props) {
  const { element, id, type, label, description, monospace, rows, target } = props;
  const s = services();
  const bo = target || getBusinessObject(element);
  return <TextAreaEntry element={element} id={id} label={label} description={description} debounce={s.debounce}
    monospace={monospace} rows={rows || 3} autoResize={!monospace}
    getValue={() => getBody(bo, type) || ''}
    setValue={(value) => setBody(element, bo, type, value, s)} />;
}

function FormFile(props) {
  const { element, id } = props;
  const s = services();
  const bo = getBusinessObject(element);
  const getOptions = () => {
    const current = getProperty(bo, 'formJsonSchemaFilename');
    const files = config().formFiles.slice();
    if (current && files.indexOf(current) < 0) { files.unshift(current); }
    return [{ value: '', label: '(no form)' }].concat(files.map((f) => ({ value: f, label: f })));
  };
  return <SelectEntry element={element} id={id} label="Form file"
    description="The JSON Schema form the person fills in (a .json file of this version)."
    getValue={() => getProperty(bo, 'formJsonSchemaFilename') || ''}
    setValue={(value) => setProperty(element, bo, 'formJsonSchemaFilename', value, s)}
    getOptions={getOptions} />;
}

function laneOf(bo) {
  for (let node = bo; node; node = node.$parent) {
    const lanes = node.get && node.$instanceOf && node.$instanceOf('bpmn:FlowNode') ? node.get('lanes') : [];
    if (lanes && lanes.length) { return lanes[lanes.length - 1].name || lanes[lanes.length - 1].id; }
  }
  return '';
}

function Lane(props) {
  const { element, id } = props;
  const lane = laneOf(getBusinessObject(element));
  return <div class="bio-properties-panel-entry" data-entry-id={id}>
    <p class="bio-properties-panel-label">Lane (who does it)</p>
    <p class="dhr-panel-static" data-testid="panel-lane">{lane || 'No lane'}</p>
    <p class="bio-properties-panel-description">To change it, drag the task into another lane on the canvas.</p>
  </div>;
}

function Helpers(props) {
  const { id } = props;
  const helpers = config().helpers;
  return <div class="bio-properties-panel-entry" data-entry-id={id}>
    <p class="bio-properties-panel-label">What a script can use besides the case's data</p>
    <ul class="dhr-panel-helpers" data-testid="panel-helpers">
      {helpers.map((h) => <li key={h.name}><code>{h.signature}</code> {h.help}</li>)}
    </ul>
  </div>;
}

function scriptOf(bo) { return bo.get('script') || ''; }

function Script(props) {
  const { element, id } = props;
  const s = services();
  const bo = getBusinessObject(element);
  return <TextAreaEntry element={element} id={id} label="Script (Python, run in the sandbox)" debounce={s.debounce}
    monospace rows={10} autoResize={false}
    getValue={() => scriptOf(bo)}
    setValue={(value) => s.commandStack.execute('element.updateModdleProperties',
      { element, moddleElement: bo, properties: { script: value || '' } })} />;
}

function eventDefinition(element, type) {
  const bo = getBusinessObject(element);
  return (bo.get('eventDefinitions') || []).find((d) => is(d, type));
}

function timerKind(definition) {
  return ['timeDate', 'timeDuration', 'timeCycle'].find((k) => definition.get(k)) || 'timeDate';
}

function TimerExpression(props) {
  const { element, id } = props;
  const s = services();
  const definition = eventDefinition(element, 'bpmn:TimerEventDefinition');
  const kind = timerKind(definition);
  const labels = { timeDate: 'Fires at (date and time expression)', timeDuration: 'Fires after (duration expression)',
    timeCycle: 'Repeats (cycle expression)' };
  return <TextFieldEntry element={element} id={id} label={labels[kind]} debounce={s.debounce}
    description="Python: a variable set by a script (e.g. deadline_reminder_at), or a quoted ISO date or period."
    getValue={() => { const e = definition.get(kind); return e ? e.body || '' : ''; }}
    setValue={(value) => {
      const existing = definition.get(kind);
      if (existing) {
        s.commandStack.execute('element.updateModdleProperties',
          { element, moddleElement: existing, properties: { body: value || '' } });
      } else {
        const created = s.bpmnFactory.create('bpmn:FormalExpression', { body: value || '' });
        created.$parent = definition;
        s.commandStack.execute('element.updateModdleProperties',
          { element, moddleElement: definition, properties: { [kind]: created } });
      }
    }} />;
}

function TimerExample(props) {
  const { element, id } = props;
  const definition = eventDefinition(element, 'bpmn:TimerEventDefinition');
  const expression = (definition.get(timerKind(definition)) || {}).body || '';
  const eventBus = useService('eventBus');
  const [state, setState] = useState({ text: 'Working out the date…', status: 'busy' });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    // Any change to the diagram (a script it depends on, the expression) gives another example.
    const bump = () => setTick((t) => t + 1);
    eventBus.on('commandStack.changed', bump);
    return () => eventBus.off('commandStack.changed', bump);
  }, [eventBus]);
  useEffect(() => {
    let live = true;
    const url = config().timerExampleUrl;
    if (!url || !window.dhrStudio) { return undefined; }
    const timer = setTimeout(() => {
      window.dhrStudio.draft().then((data) => {
        data.set('element', element.id);
        return fetch(url, { method: 'POST', body: data, credentials: 'same-origin' });
      }).then((r) => r.json()).then((answer) => {
        if (live) { setState({ text: answer.text, status: answer.ok ? 'ok' : 'problem' }); }
      }).catch(() => { if (live) { setState({ text: 'The example could not be worked out.', status: 'problem' }); } });
    }, 400);
    return () => { live = false; clearTimeout(timer); };
  }, [element.id, expression, tick]);
  return <div class="bio-properties-panel-entry" data-entry-id={id}>
    <p class="bio-properties-panel-label">With an example case</p>
    <p class={'dhr-panel-example dhr-panel-example--' + state.status} data-testid="timer-example"
      data-status={state.status} aria-live="polite">{state.text}</p>
  </div>;
}

function Condition(props) {
  const { element, id, label, description } = props;
  const s = services();
  const bo = getBusinessObject(element);
  return <TextFieldEntry element={element} id={id} label={label || 'Condition (Python, true to take this path)'}
    debounce={s.debounce}
    description={description || 'E.g. review_type == "DHR". Leave empty only on the gateway\'s default path.'}
    getValue={() => { const c = bo.get('conditionExpression'); return c ? c.body || '' : ''; }}
    setValue={(value) => {
      const existing = bo.get('conditionExpression');
      if (!(value || '').trim()) {
        s.commandStack.execute('element.updateModdleProperties',
          { element, moddleElement: bo, properties: { conditionExpression: undefined } });
      } else if (existing) {
        s.commandStack.execute('element.updateModdleProperties',
          { element, moddleElement: existing, properties: { body: value } });
      } else {
        const created = s.bpmnFactory.create('bpmn:FormalExpression', { body: value });
        created.$parent = bo;
        s.commandStack.execute('element.updateModdleProperties',
          { element, moddleElement: bo, properties: { conditionExpression: created } });
      }
    }} />;
}

function DefaultFlow(props) {
  const { element, id } = props;
  const bo = getBusinessObject(element);
  const source = bo.get('sourceRef');
  const isDefault = source && source.get('default') === bo;
  return <div class="bio-properties-panel-entry" data-entry-id={id}>
    <p class="dhr-panel-static">{isDefault ? 'This is the gateway\'s default path: taken when no condition is true.'
      : 'Taken when its condition is true.'}</p>
  </div>;
}

// A gateway's outgoing paths, each with its condition (edited on the path's own element).
function GatewayConditions(props) {
  const { element } = props;
  const registry = useService('elementRegistry');
  const bo = getBusinessObject(element);
  const flows = (bo.get('outgoing') || []).map((flow) => registry.get(flow.id)).filter(Boolean);
  if (!flows.length) { return <p class="dhr-panel-static">No outgoing paths yet.</p>; }
  return <div>{flows.map((flow) => {
    const target = flow.businessObject.get('targetRef');
    const to = (flow.businessObject.name ? flow.businessObject.name + ': ' : '') + 'to ' +
      (target ? target.name || target.id : '?');
    const isDefault = bo.get('default') === flow.businessObject;
    return <Condition key={flow.id} element={flow} id={'dhr-condition-' + flow.id} label={to}
      description={isDefault ? 'The default path: taken when no other condition is true.' : ''} />;
  })}</div>;
}

// ---- groups ----

function entry(id, component, extra) { return Object.assign({ id, component }, extra || {}); }

function taskGroup(element) {
  const entries = [
    entry('dhr-lane', Lane),
    entry('dhr-form', FormFile, { isEdited: isSelectEntryEdited }),
    entry('dhr-instructions', (p) => <BodyField {...p} type="InstructionsForEndUser" label="Instructions"
      description="Shown above the form (Jinja: {{ case_name }} and other data)." />, { isEdited: isTextAreaEntryEdited }),
    entry('dhr-taskTitle', (p) => <PropertyField {...p} name="taskTitle" label="Task title"
      description="The title in inboxes and e-mails (Jinja over the task's data); the element's name when empty." />,
    { isEdited: isTextFieldEntryEdited }),
    entry('dhr-taskDueDate', (p) => <PropertyField {...p} name="taskDueDate" label="Task due date (variable)"
      description="The variable holding the date the task is due, e.g. decision_reminder_at." />,
    { isEdited: isTextFieldEntryEdited }),
    entry('dhr-caseDeadlineDate', (p) => <PropertyField {...p} name="caseDeadlineDate" label="Case deadline (variable)"
      description="The variable holding the case's statutory deadline shown with this task." />,
    { isEdited: isTextFieldEntryEdited }),
    entry('dhr-letterTemplate', (p) => <PropertyField {...p} name="letterTemplate" label="Letter template"
      description="The letter this task can produce (a template name in templates/letters)." />,
    { isEdited: isTextFieldEntryEdited }),
    entry('dhr-taskContext', (p) => <PropertyField {...p} name="taskContext" area label="Shown from earlier steps"
      description="Entries separated by ;  a form file (intake.schema.json), a variable (request.team), labelled (Team = request.team), with | since after a date." />,
    { isEdited: isTextAreaEntryEdited }),
    entry('dhr-preScript', (p) => <BodyField {...p} type="PreScript" monospace rows={3}
      label="Script run when the task opens" />, { isEdited: isTextAreaEntryEdited }),
    entry('dhr-postScript', (p) => <BodyField {...p} type="PostScript" monospace rows={4}
      label="Script run when the task is completed" />, { isEdited: isTextAreaEntryEdited })
  ];
  return { id: 'dhr-task', label: 'Task', entries };
}

function scriptGroup() {
  return { id: 'dhr-script-group', label: 'Script', entries: [
    entry('dhr-script', Script, { isEdited: isTextAreaEntryEdited }),
    entry('dhr-helpers', Helpers)
  ] };
}

function timerGroup() {
  return { id: 'dhr-timer', label: 'Timer', entries: [
    entry('dhr-timer-expression', TimerExpression, { isEdited: isTextFieldEntryEdited }),
    entry('dhr-timer-example', TimerExample)
  ] };
}

function gatewayGroup() {
  return { id: 'dhr-conditions', label: 'Conditions', entries: [entry('dhr-gateway-conditions', GatewayConditions)] };
}

function conditionGroup() {
  return { id: 'dhr-condition', label: 'Condition', entries: [
    entry('dhr-condition-expression', Condition, { isEdited: isTextFieldEntryEdited }),
    entry('dhr-default-flow', DefaultFlow)
  ] };
}

function messageGroup(element, definition) {
  const throwing = is(element, 'bpmn:ThrowEvent');
  const message = definition.get('messageRef');
  const name = message ? message.name || message.id : '(no message chosen)';
  const Name = (p) => <div class="bio-properties-panel-entry" data-entry-id={p.id}>
    <p class="dhr-panel-static">Message: <strong>{name}</strong></p></div>;
  const field = throwing
    ? entry('dhr-message-payload', (p) => <BodyField {...p} target={definition} type="MessagePayload" monospace rows={3}
      label="Payload (Python expression sent with the message)" />, { isEdited: isTextAreaEntryEdited })
    : entry('dhr-message-variable', (p) => <BodyField {...p} target={definition} type="MessageVariable" rows={1}
      label="Payload variable (the message's payload is stored in it)" />, { isEdited: isTextAreaEntryEdited });
  return { id: 'dhr-message', label: 'Message', entries: [entry('dhr-message-name', Name), field] };
}

export default class SpiffPropertiesProvider {
  constructor(propertiesPanel) {
    propertiesPanel.registerProvider(400, this);
  }

  getGroups(element) {
    return (groups) => {
      const ours = [];
      if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) { ours.push(taskGroup(element)); }
      if (is(element, 'bpmn:ScriptTask')) { ours.push(scriptGroup(element)); }
      if (is(element, 'bpmn:Event') && eventDefinition(element, 'bpmn:TimerEventDefinition')) { ours.push(timerGroup()); }
      if (is(element, 'bpmn:ExclusiveGateway') || is(element, 'bpmn:InclusiveGateway')) { ours.push(gatewayGroup()); }
      if (is(element, 'bpmn:SequenceFlow')) {
        const source = getBusinessObject(element).get('sourceRef');
        if (source && (is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway'))) {
          ours.push(conditionGroup());
        }
      }
      const message = is(element, 'bpmn:Event') && eventDefinition(element, 'bpmn:MessageEventDefinition');
      if (message) { ours.push(messageGroup(element, message)); }
      // Ours come right after General (name, id); bpmn-js's own timer group edits the same expression.
      const rest = groups.filter((g) => g.id !== 'timer');
      const general = rest.findIndex((g) => g.id === 'general');
      rest.splice(general + 1, 0, ...ours);
      return rest;
    };
  }
}
SpiffPropertiesProvider.$inject = ['propertiesPanel'];
