// The behaviour of `nmt serve`'s page: asks the JSON API (/v1/models, /v1/translate, /v1/heatmap) and
// draws the answer. Everything that came from a user or a model (the sentence, tokens, translations,
// error messages) enters the page as text nodes, never as HTML. No libraries, no build step.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // [[background, text colour], …]: the heatmaps' viridis at 256 levels with the text colour that
  // contrasts more, written into the page by the server from the same table the PNGs use.
  const COLORMAP = JSON.parse($('colormap').textContent);

  /** The colour pair of a weight on the fixed 0–1 scale (NaN: level 0, as in the PNGs). */
  function colour(w) {
    const x = Number.isFinite(w) ? Math.min(1, Math.max(0, w)) : (w > 0 ? 1 : 0);
    return COLORMAP[Math.round(x * (COLORMAP.length - 1))];
  }

  /** A weight as the PNG cells print it: ".50", "1.00". */
  function short(w) {
    if (!Number.isFinite(w)) return '';
    const s = w.toFixed(2);
    return s.startsWith('0.') ? s.slice(1) : s;
  }

  /** Builds an element; string children become text nodes. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c);
    return el;
  }

  /** A token as text, its word-start marker ▁ shown faint. */
  function token(t) {
    const s = String(t);
    if (s.startsWith('\u2581') && s.length > 1) {
      return [h('span', { class: 'tok-ws', 'aria-hidden': 'true', text: '\u2581' }), s.slice(1)];
    }
    return [s];
  }

  const els = {
    form: $('form'), text: $('text'), go: $('go'), model: $('model'), compare: $('compare'),
    model2: $('model2'), beam: $('beam'), lp: $('lp'), words: $('words'), head: $('head'),
    headField: $('head-field'), status: $('status'), results: $('results'), panels: $('panels'),
    sourceEcho: $('source-echo'), download: $('download'), legendBar: $('legend-bar'), intro: $('intro'),
  };

  const state = {
    models: [],   // from /v1/models
    shown: null,  // {request, models, results: [{model, data | error}]}
    seq: 0,       // the newest request; older answers are dropped
    blobUrl: null,
  };

  function setStatus(text, kind) {
    els.status.textContent = text;
    els.status.className = 'status' + (kind ? ' ' + kind : '');
    if (kind === 'error') els.status.setAttribute('role', 'alert');
    else els.status.setAttribute('role', 'status');
  }

  async function errorOf(resp) {
    try {
      const body = await resp.json();
      if (body && typeof body.error === 'string') return body.error;
    } catch (_) { /* not JSON */ }
    return `${resp.status} ${resp.statusText}`.trim();
  }

  async function postJSON(url, body) {
    const resp = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!resp.ok) throw new Error(await errorOf(resp));
    return resp.json();
  }

  // ---- models ------------------------------------------------------------------------------------

  /** A model's config, as `nmt info --json` shows it (under `info`). */
  function configOf(m) {
    return (m && m.info && m.info.config) || {};
  }

  function modelLabel(m) {
    const cfg = configOf(m);
    const data = cfg.data || {};
    const parts = [m.name];
    if (data.src_lang && data.tgt_lang) parts.push(`${data.src_lang}→${data.tgt_lang}`);
    if (cfg.model && cfg.model.attention) parts.push(cfg.model.attention);
    return parts.join(' · ');
  }

  function modelByName(name) {
    return state.models.find((m) => m.name === name);
  }

  async function loadModels() {
    try {
      const resp = await fetch('/v1/models');
      if (!resp.ok) throw new Error(await errorOf(resp));
      const body = await resp.json();
      state.models = Array.isArray(body) ? body : (body.models || []);
    } catch (e) {
      setStatus(`Could not list the models: ${e.message}`, 'error');
      return;
    }
    for (const sel of [els.model, els.model2]) {
      sel.replaceChildren(...state.models.map((m) => h('option', { value: m.name, text: modelLabel(m) })));
    }
    if (state.models.length > 1) els.model2.selectedIndex = 1;
    const single = state.models.length < 2;
    els.compare.disabled = single;
    els.compare.parentElement.title = single ? 'Start nmt serve with two --model flags to compare models' : '';
    updatePlaceholder();
  }

  function updatePlaceholder() {
    const data = configOf(modelByName(els.model.value)).data;
    const lang = data && data.src_lang;
    els.text.placeholder = lang ? `Type a sentence (${lang})…` : 'Type a sentence…';
  }

  // ---- the request -------------------------------------------------------------------------------

  /** The decoding options of the form; unset ones are left to the model's defaults. */
  function options() {
    const opts = {};
    if (els.beam.value !== '') {
      const beam = Number(els.beam.value);
      opts.beam = beam;
      opts.n_best = Math.min(beam, 5);
    }
    if (els.lp.value.trim() !== '') {
      const lp = Number(els.lp.value);
      if (!Number.isFinite(lp) || lp < 0) throw new Error('The length penalty must be a number ≥ 0.');
      opts.length_penalty = lp;
    }
    return opts;
  }

  function chosenModels() {
    const a = els.model.value;
    return els.compare.checked && !els.model2.disabled ? [a, els.model2.value] : [a];
  }

  async function translate() {
    const text = els.text.value.replace(/[\r\n]+/g, ' ');
    if (text.trim() === '') {
      setStatus('Type a sentence first.');
      els.text.focus();
      return;
    }
    let opts;
    try {
      opts = options();
    } catch (e) {
      setStatus(e.message, 'error');
      return;
    }
    const request = { text, ...opts, attention: true, words: els.words.checked };
    const models = chosenModels();
    const seq = ++state.seq;
    setStatus('Translating…', 'busy');
    els.go.setAttribute('aria-busy', 'true');
    const results = await Promise.all(models.map(async (model) => {
      try {
        return { model, data: await postJSON('/v1/translate', { ...request, model }) };
      } catch (e) {
        return { model, error: e.message };
      }
    }));
    if (seq !== state.seq) return;
    els.go.removeAttribute('aria-busy');
    state.shown = { request, models, results };
    const failed = results.filter((r) => r.error);
    if (failed.length === results.length) {
      setStatus(failed[0].error, 'error');
    } else {
      const ms = results.filter((r) => r.data).map((r) => `${r.model}: ${Math.round(r.data.elapsed_ms)} ms`);
      setStatus(`Translated (${ms.join(', ')}).`);
    }
    render();
  }

  // ---- drawing -----------------------------------------------------------------------------------

  /** The attention matrix to show for one translation: a head's, or the mean (`weights`). */
  function matrixOf(tr) {
    const head = Number(els.head.value);
    if (els.head.value !== '' && Array.isArray(tr.head_weights) && tr.head_weights[head]) {
      return tr.head_weights[head];
    }
    return tr.weights || [];
  }

  function updateHeadPicker() {
    const heads = Math.max(0, ...state.shown.results.map((r) => {
      const tr = r.data && r.data.translations && r.data.translations[0];
      return tr && Array.isArray(tr.head_weights) ? tr.head_weights.length : 0;
    }));
    const before = els.head.value;
    if (els.head.options.length !== heads + 1) {
      els.head.replaceChildren(
        h('option', { value: '', text: 'mean of heads' }),
        ...Array.from({ length: heads }, (_, i) => h('option', { value: String(i), text: `head ${i}` })),
      );
      els.head.value = Number(before) < heads ? before : '';
    }
    els.headField.hidden = heads === 0;
  }

  function render() {
    resetDownload();
    const shown = state.shown;
    els.sourceEcho.textContent = shown.request.text;
    els.intro.hidden = true;
    els.results.hidden = false;
    updateHeadPicker();
    els.panels.replaceChildren(...shown.results.map((r, i) => panel(r, i)));
  }

  function panel(result, index) {
    const box = h('article', { class: 'panel', 'aria-label': `Model ${result.model}` });
    const head = h('div', { class: 'panel-head' }, h('h3', { text: result.model }));
    box.append(head);
    if (result.error) {
      box.append(h('p', { class: 'panel-error', role: 'alert', text: result.error }));
      return box;
    }
    const data = result.data;
    const tr = (data.translations || [])[0];
    const tgtLang = (configOf(modelByName(data.model || result.model)).data || {}).tgt_lang;
    head.append(h('span', { class: 'meta', text: `${Math.round(data.elapsed_ms)} ms` }));
    if (!tr) return box;
    const empty = tr.translation === '';
    box.append(h('p', {
      class: 'translation' + (empty ? ' empty' : ''), lang: tgtLang || undefined, dataset: { role: 'translation' },
      text: empty ? '(empty)' : tr.translation,
    }));
    if (Number.isFinite(tr.score)) box.append(h('p', { class: 'score', text: `score ${tr.score.toFixed(4)}` }));
    if (Array.isArray(tr.n_best) && tr.n_best.length > 1) {
      box.append(h('p', { class: 'section-title', text: `${tr.n_best.length} best` }));
      box.append(h('ol', { class: 'nbest' }, tr.n_best.map((n) => h('li', {},
        h('span', { class: 'nb-text', lang: tgtLang || undefined, text: n.translation }),
        h('span', { class: 'nb-score', text: Number(n.score).toFixed(4) }),
      ))));
    }
    const matrix = matrixOf(tr);
    if (tr.source.length && tr.target.length && matrix.length) {
      box.append(h('p', { class: 'section-title', text: 'Attention' }));
      box.append(heatmap(tr.source, tr.target, matrix, index));
    }
    return box;
  }

  /**
   * The interactive heatmap: a CSS grid with one `.cell` per (target i, source j) carrying
   * data-t, data-s and data-w; source tokens across the top (`.src-tok[data-s]`), target tokens
   * down the left (`.tgt-tok[data-t]`); below it the readout of the active cell and the bars of the
   * active target token's attention over the source.
   */
  function heatmap(source, target, matrix, index) {
    const S = source.length;
    const T = target.length;
    const id = (i, j) => `p${index}-c${i}-${j}`;
    const grid = h('div', {
      class: 'heatmap' + (S > 40 ? ' small' : ''), role: 'grid', tabindex: '0',
      'aria-label': 'Attention heatmap: rows are target tokens, columns source tokens; arrow keys move',
      dataset: { rows: String(T), cols: String(S) },
    });
    grid.style.gridTemplateColumns = `max-content repeat(${S}, var(--cell))`;
    grid.style.gridTemplateRows = `auto repeat(${T}, var(--cell))`;
    const srcLabels = source.map((tok, j) => h('div', {
      class: 'src-tok', role: 'columnheader', title: tok, dataset: { s: String(j) },
    }, token(tok)));
    grid.append(h('div', { class: 'row', role: 'row' }, h('div', { class: 'corner', role: 'presentation' }), srcLabels));
    const tgtLabels = [];
    const cells = [];
    for (let i = 0; i < T; i++) {
      const label = h('div', { class: 'tgt-tok', role: 'rowheader', title: target[i], dataset: { t: String(i) } },
        token(target[i]));
      tgtLabels.push(label);
      const row = matrix[i] || [];
      const rowCells = [];
      for (let j = 0; j < S; j++) {
        const w = Number(row[j]);
        const [bg, fg] = colour(w);
        const c = h('div', {
          class: 'cell', role: 'gridcell', id: id(i, j),
          'aria-label': `${target[i]} ← ${source[j]}: ${Number.isFinite(w) ? w.toFixed(3) : 'n/a'}`,
          dataset: { t: String(i), s: String(j), w: Number.isFinite(w) ? String(w) : 'NaN' },
        }, w >= 0.005 ? short(w) : '');
        c.style.background = bg;
        c.style.color = fg;
        rowCells.push(c);
      }
      cells.push(rowCells);
      grid.append(h('div', { class: 'row', role: 'row' }, label, rowCells));
    }

    const readout = h('p', { class: 'readout idle', 'aria-live': 'polite',
      text: 'Hover a cell to see its weight; hover a target token to see its attention.' });
    const barsTitle = h('p', { class: 'section-title' });
    const bars = h('div', { class: 'bars', dataset: { role: 'bars' } });
    const barItems = source.map((tok, j) => {
      const fill = h('div', { class: 'bar' });
      const val = h('span', { class: 'bar-val' });
      const item = h('div', { class: 'bar-item', dataset: { s: String(j) } },
        val, h('div', { class: 'bar-track' }, fill), h('span', { class: 'bar-tok', title: tok }, token(tok)));
      return { item, fill, val };
    });
    bars.append(...barItems.map((b) => b.item));

    let active = null; // [i, j] of the highlighted cell, j = -1 for a whole row
    function showRow(i, j) {
      barsTitle.replaceChildren('Attention of ', h('span', {}, token(target[i])), ' over the source');
      const row = matrix[i] || [];
      barItems.forEach((b, k) => {
        const w = Number(row[k]);
        const x = Number.isFinite(w) ? Math.min(1, Math.max(0, w)) : 0;
        b.fill.style.height = `${(x * 100).toFixed(1)}%`;
        b.fill.style.background = colour(Math.max(x, 0.15))[0];
        b.val.textContent = short(w) || '0';
        b.item.classList.toggle('hl', k === j);
      });
    }
    function clear() {
      if (!active) return;
      const [i, j] = active;
      tgtLabels[i].classList.remove('hl');
      if (j >= 0) {
        srcLabels[j].classList.remove('hl');
        cells[i][j].classList.remove('active');
      }
      active = null;
    }
    function activate(i, j) {
      clear();
      active = [i, j];
      tgtLabels[i].classList.add('hl');
      if (j >= 0) {
        srcLabels[j].classList.add('hl');
        cells[i][j].classList.add('active');
        grid.setAttribute('aria-activedescendant', id(i, j));
        const w = Number((matrix[i] || [])[j]);
        const [bg, fg] = colour(w);
        const chip = h('span', { class: 'w', text: Number.isFinite(w) ? w.toFixed(3) : 'n/a' });
        chip.style.background = bg;
        chip.style.color = fg;
        readout.className = 'readout';
        readout.replaceChildren(h('span', {}, token(target[i])), h('span', { class: 'arrow', text: '←' }),
          h('span', {}, token(source[j])), chip);
      } else {
        readout.className = 'readout idle';
        readout.textContent = `Target token ${i + 1} of ${T}; the bars show its attention over the source.`;
      }
      showRow(i, j);
    }

    grid.addEventListener('mouseover', (e) => {
      const c = e.target.closest('.cell, .tgt-tok');
      if (!c || !grid.contains(c)) return;
      const i = Number(c.dataset.t);
      activate(i, c.classList.contains('cell') ? Number(c.dataset.s) : -1);
    });
    grid.addEventListener('focus', () => {
      if (!active || active[1] < 0) activate(active ? active[0] : 0, 0);
    });
    grid.addEventListener('keydown', (e) => {
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      let [i, j] = active && active[1] >= 0 ? active : [0, 0];
      if (moves[e.key]) {
        i = Math.min(T - 1, Math.max(0, i + moves[e.key][0]));
        j = Math.min(S - 1, Math.max(0, j + moves[e.key][1]));
      } else if (e.key === 'Home') {
        j = 0;
      } else if (e.key === 'End') {
        j = S - 1;
      } else {
        return;
      }
      e.preventDefault();
      activate(i, j);
      cells[i][j].scrollIntoView({ block: 'nearest', inline: 'nearest' });
    });

    showRow(0, -1);
    return h('div', { class: 'heatmap-block' },
      h('div', { class: 'heatmap-wrap' }, grid), h('div', { class: 'heatmap-side' }, readout, barsTitle, bars));
  }

  // ---- download ----------------------------------------------------------------------------------

  function resetDownload() {
    if (state.blobUrl) URL.revokeObjectURL(state.blobUrl);
    state.blobUrl = null;
    els.download.href = '#';
    els.download.removeAttribute('download');
    delete els.download.dataset.ready;
  }

  async function download(e) {
    if (els.download.dataset.ready === '1') return; // the blob URL is set: let the browser save it
    e.preventDefault();
    const shown = state.shown;
    if (!shown || els.download.getAttribute('aria-busy') === 'true') return;
    const ok = shown.results.filter((r) => r.data).map((r) => r.model);
    if (!ok.length) return;
    const body = { text: shown.request.text, words: shown.request.words, format: 'png' };
    if (ok.length > 1) body.models = ok; else body.model = ok[0];
    if (shown.request.beam !== undefined) body.beam = shown.request.beam;
    if (shown.request.length_penalty !== undefined) body.length_penalty = shown.request.length_penalty;
    if (els.head.value !== '' && !els.headField.hidden) body.head = Number(els.head.value);
    els.download.setAttribute('aria-busy', 'true');
    try {
      const resp = await fetch('/v1/heatmap', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      if (!resp.ok) throw new Error(await errorOf(resp));
      const blob = await resp.blob();
      resetDownload();
      state.blobUrl = URL.createObjectURL(blob);
      els.download.href = state.blobUrl;
      els.download.download = `attention-${ok.join('-vs-')}.png`.replace(/[^\w.-]+/g, '_');
      els.download.dataset.ready = '1';
      els.download.click();
    } catch (err) {
      setStatus(`Could not draw the PNG: ${err.message}`, 'error');
    } finally {
      els.download.removeAttribute('aria-busy');
    }
  }

  // ---- wiring ------------------------------------------------------------------------------------

  els.legendBar.style.background = `linear-gradient(90deg, ${
    Array.from({ length: 11 }, (_, k) => colour(k / 10)[0]).join(', ')})`;

  els.form.addEventListener('submit', (e) => {
    e.preventDefault();
    translate();
  });
  els.text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing) {
      e.preventDefault();
      if (!e.shiftKey) translate();
    }
  });
  els.compare.addEventListener('change', () => {
    els.model2.disabled = !els.compare.checked;
  });
  els.model.addEventListener('change', updatePlaceholder);
  els.words.addEventListener('change', () => {
    if (state.shown) {
      els.text.value = state.shown.request.text;
      translate();
    }
  });
  els.head.addEventListener('change', () => {
    if (state.shown) render();
  });
  els.download.addEventListener('click', download);

  loadModels();
})();
