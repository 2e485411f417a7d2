// Script of the HTML report page (runs in the browser, plain ES2017; inlined by core/results/report/html.ts).
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var clusters = D.clusters;
  var byId = {};
  clusters.forEach(function (c) { byId[c.row_id] = c; });

  // ---- map: no base layer (offline); alert tiles, hulls, then centres on top
  var map = L.map('map', { zoomSnap: 0.25, attributionControl: false });
  L.control.scale({ imperial: false }).addTo(map);
  D.overlays.forEach(function (o) {
    L.imageOverlay(o.url, [[o.bounds.south, o.bounds.west], [o.bounds.north, o.bounds.east]], {
      className: 'alerts-tile', alt: 'alerts of tile ' + o.key,
    }).addTo(map);
  });

  // Areas of interest (runs with --aoi): outlined, not filled.
  (D.areas || []).forEach(function (a) {
    L.polygon(a.polygons, { color: '#087f5b', weight: 2, dashArray: '6 4', fill: false, className: 'aoi-outline', interactive: false })
      .bindTooltip(a.name).addTo(map);
  });
  // A diff: the old clusters' hulls under the new ones (growth = new hull beyond the grey one).
  (D.oldHulls || []).forEach(function (o) {
    L.polygon(o.hull, { color: '#777', weight: 1, dashArray: '3 3', fillColor: '#999', fillOpacity: o.status === 'gone' ? 0.05 : 0.25, className: 'old-hull old-' + o.status, interactive: false }).addTo(map);
  });
  var STATUS_COLORS = { new: '#d7191c', grown: '#fd8d3c', shrunk: '#2c7bb6', same: '#333' };

  var maxArea = Math.max.apply(null, clusters.map(function (c) { return c.area_ha; }).concat([1e-9]));
  var radius = function (c) { return 4 + 14 * Math.sqrt(c.area_ha / maxArea); };
  var layers = {};
  // Largest first, so smaller circles are drawn on top and stay clickable.
  clusters.slice().sort(function (a, b) { return b.area_ha - a.area_ha; }).forEach(function (c) {
    var hull = c.hull ? L.polygon(c.hull, { color: STATUS_COLORS[c.status] || '#333', weight: c.status ? 2 : 1, fill: false, className: 'cluster-hull' + (c.status ? ' status-' + c.status : ''), interactive: false }) : null;
    var centre = L.circleMarker([c.latitude, c.longitude], {
      radius: radius(c), color: '#ffffff', weight: 1, fillColor: c.color, fillOpacity: 0.9, className: 'cluster-centre',
    });
    centre.on('click', function () { select(c.row_id, false); });
    centre.bindTooltip('#' + c.row_id + ' · ' + c.count + ' alerts · ' + c.area_ha.toFixed(2) + ' ha · ' + c.min_date + ' → ' + c.max_date + ' (' + c.duration_days + ' days)' + (c.status ? ' · ' + c.status + ' (' + (c.delta_count >= 0 ? '+' : '') + c.delta_count + ' alerts, ' + (c.delta_area_ha >= 0 ? '+' : '') + c.delta_area_ha.toFixed(2) + ' ha)' : ''));
    layers[c.row_id] = { hull: hull, centre: centre, shown: false };
  });

  function show(id, visible) {
    var l = layers[id];
    if (l.shown === visible) return;
    l.shown = visible;
    [l.hull, l.centre].forEach(function (layer) {
      if (!layer) return;
      if (visible) layer.addTo(map); else map.removeLayer(layer);
    });
    if (visible) l.centre.getElement().setAttribute('data-row', String(id));
  }

  // ---- fit the view: clusters, else the drawn tiles, else the world
  var points = [];
  clusters.forEach(function (c) { (c.hull || [[c.latitude, c.longitude]]).forEach(function (p) { points.push(p); }); });
  D.overlays.forEach(function (o) { points.push([o.bounds.south, o.bounds.west], [o.bounds.north, o.bounds.east]); });
  if (points.length) map.fitBounds(L.latLngBounds(points), { padding: [20, 20], maxZoom: 18 });
  else map.setView([0, 0], 2);

  // ---- table
  var COLUMNS = [
    ['row_id', 'row', 0], ['count', 'count', 0], ['area', 'area px²', 1], ['area_ha', 'ha', 2],
    ['min_date', 'first', null], ['max_date', 'last', null], ['duration_days', 'days', 0], ['latitude', 'lat', 5], ['longitude', 'lon', 5],
  ];
  var sortKey = 'area_ha';
  var sortDesc = true;
  var selected = null;
  var thead = document.querySelector('#clusters thead');
  var tbody = document.querySelector('#clusters tbody');
  var fmt = function (v, d) { return d === null ? String(v) : Number(v).toFixed(d); };

  thead.innerHTML = '<tr><th></th>' + COLUMNS.map(function (c) { return '<th data-key="' + c[0] + '">' + c[1] + '</th>'; }).join('') + '</tr>';
  thead.addEventListener('click', function (e) {
    var key = e.target.getAttribute && e.target.getAttribute('data-key');
    if (!key) return;
    sortDesc = key === sortKey ? !sortDesc : key !== 'min_date' && key !== 'max_date' && key !== 'row_id' ? true : false;
    sortKey = key;
    render();
  });
  tbody.addEventListener('click', function (e) {
    var tr = e.target.closest('tr');
    if (tr) select(Number(tr.getAttribute('data-row')), true);
  });

  // A cluster is an event from its first to its last alert: shown when that span overlaps the
  // filter's [from, to] (both days included), so an event that began before `from` and still had
  // alerts after it is shown. ISO dates compare as strings.
  function visible(c) {
    var from = document.getElementById('from').value;
    var to = document.getElementById('to').value;
    return (!from || c.max_date >= from) && (!to || c.min_date <= to);
  }

  function render() {
    var shown = clusters.filter(visible);
    clusters.forEach(function (c) { show(c.row_id, visible(c)); });
    shown.sort(function (a, b) {
      var x = a[sortKey], y = b[sortKey];
      var r = x < y ? -1 : x > y ? 1 : a.row_id - b.row_id;
      return sortDesc ? -r : r;
    });
    tbody.innerHTML = shown.map(function (c) {
      return '<tr data-row="' + c.row_id + '"' + (c.row_id === selected ? ' class="selected"' : '') + '><td><span class="swatch" style="background:' + c.color + '"></span></td>' +
        COLUMNS.map(function (col) { return '<td>' + fmt(c[col[0]], col[2]) + '</td>'; }).join('') + '</tr>';
    }).join('');
    Array.prototype.forEach.call(thead.querySelectorAll('th'), function (th) {
      th.className = th.getAttribute('data-key') === sortKey ? (sortDesc ? 'sorted-desc' : 'sorted-asc') : '';
    });
    document.getElementById('count-shown').textContent = String(shown.length);
  }

  // ---- details of one cluster
  var DETAIL = [
    ['row_id', 'row id'], ['count', 'count'], ['area', 'area (px²)'], ['area_ha', 'area (ha)'], ['alert_area_ha', 'alert area (ha)'],
    ['min_date', 'first alert'], ['max_date', 'last alert'], ['duration_days', 'duration (days)'], ['latitude', 'latitude'], ['longitude', 'longitude'],
    ['tile', 'z/x/y'], ['pixel', 'pixel i/j'],
  ];
  function select(id, pan) {
    var c = byId[id];
    if (!c) return;
    if (selected !== null && layers[selected]) layers[selected].centre.setStyle({ color: '#ffffff', weight: 1 });
    selected = id;
    layers[id].centre.setStyle({ color: '#ff0000', weight: 3 });
    var values = Object.assign({}, c, { tile: c.z + '/' + c.x + '/' + c.y, pixel: c.i + '/' + c.j });
    document.getElementById('details').innerHTML = '<table>' + DETAIL.map(function (d) {
      var v = values[d[0]];
      var text = typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(d[0] === 'latitude' || d[0] === 'longitude' ? 5 : 2) : String(v);
      return '<tr><td>' + d[1] + '</td><td data-field="' + d[0] + '">' + text + '</td></tr>';
    }).join('') + '</table>';
    render();
    var tr = tbody.querySelector('tr[data-row="' + id + '"]');
    if (tr) tr.scrollIntoView({ block: 'nearest' });
    if (pan) map.panTo([c.latitude, c.longitude]);
  }

  document.getElementById('from').addEventListener('change', render);
  document.getElementById('to').addEventListener('change', render);
  document.getElementById('reset').addEventListener('click', function () {
    document.getElementById('from').value = '';
    document.getElementById('to').value = '';
    render();
  });
  document.getElementById('ramp').style.background = 'linear-gradient(to right, ' + D.gradient.join(', ') + ')';
  var errorList = document.getElementById('errors');
  if (errorList) {
    errorList.innerHTML = D.errors.map(function (e) {
      var li = document.createElement('li');
      li.textContent = e.z + '/' + e.x + '/' + e.y + ' [' + e.stage + '] ' + e.message;
      return li.outerHTML;
    }).join('');
  }
  render();
  window.report = { map: map, select: select, clusters: clusters };
})();
