/* Instance page: draws the instance's BPMN with bpmn-js (NavigatedViewer), marks completed
   elements, the path taken, open tasks and waiting timers/messages with their due times, and
   lists an element's audit events when it is clicked. The data comes embedded in the page. */
(function () {
  'use strict';

  var source = document.getElementById('admin-instance-data');
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var diagram = data.diagram;
  var events = data.events;
  var names = data.names || {};
  var labels = data.labels;

  function say(name, value) {
    return labels[name].replace('{}', value === undefined ? '' : value);
  }

  function text(tag, content, className) {
    var node = document.createElement(tag);
    node.textContent = content;
    if (className) { node.className = className; }
    return node;
  }

  function describe(event) {
    var item = document.createElement('li');
    item.appendChild(text('time', event.at_local));
    item.appendChild(document.createTextNode(' '));
    item.appendChild(text('strong', event.event));
    item.appendChild(document.createTextNode(' · ' + event.actor));
    event.changes.forEach(function (change) {
      var line = change.field + ': ' +
        (change.kind === 'added' ? '' : change.before + ' → ') +
        (change.kind === 'removed' ? say('removed') : change.after);
      item.appendChild(text('div', line, 'admin-muted'));
    });
    if (event.reason) { item.appendChild(text('div', say('reason', event.reason), 'admin-muted')); }
    var link = text('a', say('in_timeline'));
    link.href = '#event-' + event.id;
    item.appendChild(document.createTextNode(' '));
    item.appendChild(link);
    return item;
  }

  var canvas = null;
  var selected = null;

  function select(elementId) {
    var list = document.getElementById('admin-element-events');
    var title = document.getElementById('admin-element-title');
    var hint = document.getElementById('admin-element-hint');
    var found = events.filter(function (event) { return event.element_id === elementId; });
    title.textContent = (names[elementId] || elementId) + ' (' + elementId + ')';
    list.replaceChildren.apply(list, found.map(describe));
    hint.textContent = found.length ? say('events', found.length) : say('no_events');
    document.querySelectorAll('#admin-timeline tr.admin-event').forEach(function (row) {
      row.classList.toggle('admin-selected', row.dataset.elementId === elementId);
    });
    if (canvas) {
      if (selected && canvas.getRootElement()) {
        try { canvas.removeMarker(selected, 'admin-selected'); } catch (ignored) { /* not drawn */ }
      }
      try { canvas.addMarker(elementId, 'admin-selected'); } catch (ignored) { /* not drawn */ }
    }
    selected = elementId;
    document.body.dataset.selectedElement = elementId;
  }

  document.querySelectorAll('.admin-select-element').forEach(function (button) {
    button.addEventListener('click', function () { select(button.dataset.elementId); });
  });

  var container = document.getElementById('admin-diagram');
  if (!container || !diagram.bpmn_xml) { return; }

  function fail(message) {
    container.dataset.state = 'failed';
    container.replaceChildren(text('p', message, 'admin-error'));
  }

  if (typeof window.BpmnJS !== 'function') {
    fail(say('no_viewer'));
    return;
  }

  var viewer = new window.BpmnJS({ container: container });
  viewer.importXML(diagram.bpmn_xml).then(function () {
    canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');

    function mark(ids, marker) {
      ids.forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, marker); }
      });
    }

    mark(diagram.completed_elements, 'admin-completed');
    mark(diagram.completed_flows, 'admin-taken');
    mark(diagram.active_elements, 'admin-active');
    diagram.waiting.forEach(function (waiting) {
      if (!registry.get(waiting.element_id)) { return; }
      canvas.addMarker(waiting.element_id, 'admin-waiting');
      if (waiting.via && registry.get(waiting.via)) { canvas.addMarker(waiting.via, 'admin-waiting'); }
      var label = waiting.kind === 'timer'
        ? say('due', waiting.due_label) + (waiting.status === 'incident' ? ' ' + say('incident') : '')
        : say('message', waiting.label || '');
      var badge = text('div', label, 'admin-due' + (waiting.status === 'incident' ? ' admin-due-incident' : ''));
      badge.dataset.elementId = waiting.element_id;
      overlays.add(waiting.element_id, 'admin-due', { position: { bottom: 2, left: -30 }, html: badge });
    });

    viewer.get('eventBus').on('element.click', function (event) {
      var element = event.element;
      if (element && element.id && element.type !== 'bpmn:Process' &&
          element.type !== 'bpmn:Collaboration') {
        select(element.businessObject && element.businessObject.id || element.id);
      }
    });
    canvas.zoom('fit-viewport');
    container.dataset.state = 'ready';
  }).catch(function (error) {
    fail(say('not_drawn', error && error.message || error));
  });
})();
