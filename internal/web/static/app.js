// ivid's page script: terminology warnings, media reveal, keyboard review,
// uploads with progress. No third-party code; loaded under a strict CSP.
"use strict";

function json(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}

// Terminology (Luxembourg Guidelines): warn, never block.
function watchTerms() {
  const terms = json("terms") || [];
  const i18n = json("i18n") || { warn: "Discouraged term", use: "use instead" };
  const fields = document.querySelectorAll("textarea, input.terms");
  fields.forEach((f) => {
    const note = document.createElement("p");
    note.className = "term-warning";
    note.setAttribute("role", "status");
    note.hidden = true;
    f.insertAdjacentElement("afterend", note);
    const check = () => {
      const text = f.value.toLowerCase();
      const hit = terms.find((t) => text.includes(t.avoid.toLowerCase()));
      if (hit) {
        note.textContent = `${i18n.warn} “${hit.avoid}”: ${i18n.use} “${hit.use}”.`;
        note.hidden = false;
      } else {
        note.hidden = true;
      }
    };
    f.addEventListener("input", check);
    check();
  });
}

function reveal(img) {
  if (img) img.classList.toggle("revealed");
}

function watchReveal() {
  document.querySelectorAll("button.reveal").forEach((b) => {
    b.addEventListener("click", () => reveal(document.getElementById(b.dataset.target)));
  });
}

// Clue rectangles over the (blurred) image, scaled to its displayed size.
function placeClues() {
  const img = document.getElementById("main-media");
  if (!img) return;
  const place = () => {
    document.querySelectorAll(".clue-rect").forEach((r) => {
      const sx = img.clientWidth / (+r.dataset.iw || img.naturalWidth || 1);
      const sy = img.clientHeight / (+r.dataset.ih || img.naturalHeight || 1);
      r.style.left = `${r.dataset.x * sx}px`;
      r.style.top = `${r.dataset.y * sy}px`;
      r.style.width = `${r.dataset.w * sx}px`;
      r.style.height = `${r.dataset.h * sy}px`;
    });
  };
  img.addEventListener("load", place);
  window.addEventListener("resize", place);
  if (img.complete) place();
}

// drawClue lets a clue's rectangle be drawn on the image with the mouse:
// the drag fills the form's x, y, w, h in the image's own pixels.
function drawClue() {
  const img = document.getElementById("main-media");
  const fields = document.getElementById("clue-rect");
  if (!img || !fields || !img.dataset.iw) return;
  const input = (n) => fields.querySelector(`input[name="${n}"]`);
  img.classList.add("drawable");
  let start = null;
  let box = null;
  const at = (e) => {
    const r = img.getBoundingClientRect();
    return { x: Math.min(Math.max(e.clientX - r.left, 0), r.width), y: Math.min(Math.max(e.clientY - r.top, 0), r.height) };
  };
  const show = (a, b) => {
    const x = Math.min(a.x, b.x);
    const y = Math.min(a.y, b.y);
    box.style.left = `${img.offsetLeft + x}px`;
    box.style.top = `${img.offsetTop + y}px`;
    box.style.width = `${Math.abs(b.x - a.x)}px`;
    box.style.height = `${Math.abs(b.y - a.y)}px`;
    return { x, y, w: Math.abs(b.x - a.x), h: Math.abs(b.y - a.y) };
  };
  img.addEventListener("mousedown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    start = at(e);
    if (!box) {
      box = document.createElement("span");
      box.className = "clue-rect drawing";
      img.parentElement.append(box);
    }
    show(start, start);
  });
  window.addEventListener("mousemove", (e) => { if (start) show(start, at(e)); });
  window.addEventListener("mouseup", (e) => {
    if (!start) return;
    const r = show(start, at(e));
    start = null;
    if (r.w < 2 || r.h < 2) return;
    const sx = +img.dataset.iw / img.clientWidth;
    const sy = +img.dataset.ih / img.clientHeight;
    input("x").value = Math.round(r.x * sx);
    input("y").value = Math.round(r.y * sy);
    input("w").value = Math.round(r.w * sx);
    input("h").value = Math.round(r.h * sy);
  });
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return res.status === 204 ? null : res.json();
}

// Review: focus moves with arrows or N, Space selects, 0-4 categorise the
// selection (or the focused item), B proposes Baseline, S adds to the
// series chosen above, R reveals.
function watchReview() {
  const grid = document.getElementById("review");
  if (!grid) return;
  const cats = json("cats") || {};
  const status = document.getElementById("review-status");
  const tiles = () => Array.from(grid.querySelectorAll(".tile"));
  const targets = () => {
    const sel = tiles().filter((t) => t.classList.contains("selected"));
    if (sel.length) return sel;
    return document.activeElement && document.activeElement.classList.contains("tile") ? [document.activeElement] : [];
  };
  const move = (d) => {
    const ts = tiles();
    const i = ts.indexOf(document.activeElement);
    const next = ts[Math.max(0, Math.min(ts.length - 1, i < 0 ? 0 : i + d))];
    if (next) next.focus();
  };
  const say = (msg) => { status.textContent = msg; };
  // One by one: only the current item, large.
  const toggle = document.getElementById("single-toggle");
  const setSingle = (on) => {
    grid.classList.toggle("single", on);
    if (toggle) toggle.setAttribute("aria-pressed", String(on));
    const cur = grid.querySelector(".tile.current") || tiles()[0];
    if (cur) cur.focus();
  };
  if (toggle) toggle.addEventListener("click", () => setSingle(!grid.classList.contains("single")));
  grid.addEventListener("focusin", (e) => {
    const t = e.target.closest(".tile");
    if (!t) return;
    tiles().forEach((x) => x.classList.toggle("current", x === t));
  });
  if (tiles().length) tiles()[0].focus();
  // Selection by mouse: Ctrl-click (Cmd-click) adds or removes a tile,
  // Shift-click selects the range from the last tile clicked.
  let anchor = null;
  grid.addEventListener("mousedown", (e) => { if (e.shiftKey) e.preventDefault(); });
  grid.addEventListener("click", (e) => {
    const t = e.target.closest(".tile");
    if (!t) return;
    if (e.shiftKey && anchor) {
      const ts = tiles();
      const [a, b] = [ts.indexOf(anchor), ts.indexOf(t)].sort((x, y) => x - y);
      ts.slice(a, b + 1).forEach((x) => x.classList.add("selected"));
    } else if (e.ctrlKey || e.metaKey) {
      t.classList.toggle("selected");
      anchor = t;
    } else {
      anchor = t;
    }
    t.focus();
  });
  grid.addEventListener("keydown", async (e) => {
    const k = e.key;
    if (k === "ArrowRight" || k === "n" || k === "N") { move(1); e.preventDefault(); return; }
    if (k === "ArrowLeft") { move(-1); e.preventDefault(); return; }
    if (k === " ") { if (document.activeElement.classList.contains("tile")) document.activeElement.classList.toggle("selected"); e.preventDefault(); return; }
    if (k === "r" || k === "R") { reveal(document.activeElement.querySelector("img")); return; }
    if (k === "o" || k === "O") { setSingle(!grid.classList.contains("single")); return; }
    const ts = targets();
    if (!ts.length) return;
    const ids = ts.map((t) => +t.dataset.id);
    try {
      if (/^[0-4]$/.test(k)) {
        await api("POST", "/api/v1/media/categorise", { ids, category: +k });
        ts.forEach((t) => { t.querySelector(".cat").textContent = cats[k]; t.classList.remove("selected"); t.dataset.category = k; });
        say(`${ids.length} → ${cats[k]}`);
        move(1);
      } else if (k === "b" || k === "B") {
        for (const id of ids) await api("POST", `/api/v1/media/${id}/baseline`);
        say(`Baseline: ${ids.join(", ")}`);
      } else if (k === "s" || k === "S") {
        const sid = document.getElementById("series-pick").value;
        if (!sid) return;
        await api("POST", `/api/v1/series/${sid}/media`, { ids });
        say(`→ series ${sid}: ${ids.join(", ")}`);
      }
    } catch (err) {
      say(err.message);
    }
  });
}

// Upload: files go in batches, with progress, and each file's comparison
// is listed as soon as the server answers its batch.
function watchUpload() {
  const box = document.getElementById("upload");
  if (!box) return;
  const input = document.getElementById("files");
  const drop = document.getElementById("drop");
  const bar = document.getElementById("progress");
  const list = document.getElementById("results");
  const L = list.dataset;
  const describe = (r) => {
    const li = document.createElement("li");
    if (r.error) { li.textContent = `${r.file}: ${r.error}`; li.className = "error"; return li; }
    const c = r.comparison;
    const parts = [`${r.file}: `];
    const head = document.createElement("span");
    head.className = c.new ? "newitem" : "known";
    head.textContent = c.new ? L.new : `${L.known} (${c.submissions}: ${(c.agencies || []).join(", ")})`;
    li.append(parts[0], head);
    const facts = (s) => {
      if (!s) return "";
      let t = ` · ${L.series} “${s.series.name}” (${s.series.status})`;
      (s.claims || []).forEach((cl) => { t += ` · ${L.claimed} ${cl.agency}`; });
      (s.victims || []).filter((v) => v.identified).forEach((v) => { t += ` · ${L.identified} ${v.agency} ${(v.identified_at || "").slice(0, 10)}`; });
      return t;
    };
    let text = facts(c.series);
    (c.links || []).forEach((l) => {
      text += ` · ${L.near} #${l.media_id} (${l.kind}, ${l.distance})${facts(l.series)}`;
    });
    if (!c.new && !text && !(c.links || []).length) text = "";
    if (c.new && !(c.links || []).length) text += ` · ${L.none}`;
    li.append(text);
    const a = document.createElement("a");
    a.href = `/media/${c.media.id}`;
    a.textContent = ` #${c.media.id}`;
    li.append(a);
    return li;
  };
  // A request carries a batch of files: the server hashes them in parallel
  // and commits them in groups. Batches stay small, because the browser
  // reads the answer only once it has sent the whole request.
  // Each file goes with a key made of its name, size and date: dropped
  // again on the case (after a network error, say), it is not submitted
  // twice. crypto.subtle is there over HTTPS and on localhost.
  const keyOf = async (f) => {
    if (!window.crypto || !crypto.subtle) return "";
    const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${f.name}\0${f.size}\0${f.lastModified}`));
    return "web-" + Array.from(new Uint8Array(d).slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  };
  const send = async (files) => {
    const keys = await Promise.all(files.map(keyOf));
    return post(files, keys);
  };
  const post = (files, keys) => new Promise((resolve) => {
    const form = new FormData();
    files.forEach((f, i) => {
      if (keys[i]) form.append("idempotency_key", keys[i]);
      form.append("file", f, f.name);
    });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/cases/${box.dataset.case}/media`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total); };
    xhr.onload = () => {
      const lines = xhr.responseText.split("\n").filter((l) => l.trim());
      if (xhr.status !== 200) {
        let msg = xhr.statusText;
        try { msg = JSON.parse(xhr.responseText).detail; } catch (e) { /* keep */ }
        files.forEach((f) => list.append(describe({ file: f.name, error: msg })));
      }
      lines.forEach((l) => { try { const r = JSON.parse(l); if (r.file) list.append(describe(r)); } catch (e) { /* partial */ } });
      resolve();
    };
    xhr.onerror = () => { files.forEach((f) => list.append(describe({ file: f.name, error: "network error" }))); resolve(); };
    xhr.send(form);
  });
  const sendAll = async (files) => {
    bar.hidden = false;
    for (let i = 0; i < files.length;) {
      const batch = [];
      let size = 0;
      while (i < files.length && batch.length < 16 && (batch.length === 0 || size + files[i].size <= 64 << 20)) {
        size += files[i].size;
        batch.push(files[i++]);
      }
      await send(batch);
    }
    bar.hidden = true;
  };
  input.addEventListener("change", async () => {
    await sendAll(Array.from(input.files));
    input.value = ""; // so that choosing the same files again sends them
  });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); sendAll(Array.from(e.dataTransfer.files)); });
}

document.addEventListener("DOMContentLoaded", () => {
  watchTerms();
  watchReveal();
  placeClues();
  drawClue();
  watchReview();
  watchUpload();
});
