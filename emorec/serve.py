"""The web page of a packaged model (paper 004 §V, Figure 9): ``emorec-serve``.

A FastAPI app with two routes:

* ``GET /``: one self-contained HTML page (no script, style or font from the network): an
  audio file upload and a 3 s browser recording (MediaRecorder, uploaded the same way),
  then the transcript and the speech, text and fused probabilities as bar charts;
* ``POST /api/score`` (multipart, field ``audio``): ``{"transcript", "classes",
  "duration_s", "systems": {"speech"|"text"|"fused": {"posteriors": {class: p}, "argmax"}},
  "warnings"}`` (messages name the upload, never the server's temporary file),
  or ``{"error": message}`` with status 400 (unreadable audio), 413 (over the size limit)
  or 500 (anything else; the traceback goes to the server's log, never to the page).

The size limit (``--max-mb``) is checked three times, each where it is cheapest: the page
refuses a larger file before sending it; the server refuses a request whose declared
Content-Length exceeds it (plus the multipart framing) before reading its body, since
Starlette would spool all of it to disk before the endpoint runs; the endpoint reads at
most the limit plus one byte of the file (a chunked upload declares no length).

The model is loaded once; requests are scored one at a time (one lock), each upload
written to a temporary file with its extension (wav, flac, mp3, m4a, webm... decoded by
emorec.audio, through ffmpeg where libsndfile cannot) and removed afterwards.
"""
from __future__ import annotations

import html
import os
import re
import sys
import tempfile
import threading
import traceback

# at module level: FastAPI resolves the endpoint's annotations (UploadFile) in this namespace
from fastapi import FastAPI, File, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from emorec.inference import InferError

MULTIPART_SLACK = 64 * 1024  # bytes of multipart framing allowed over the file size limit

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>emorec: emotion from speech and text</title>
<style>
body { font-family: sans-serif; max-width: 52em; margin: 2em auto; color: #222; }
.row { margin: 0.6em 0; }
#error { color: #a00; font-weight: bold; white-space: pre-wrap; }
#status, #duration { color: #555; }
#warnings { color: #a60; white-space: pre-wrap; }
.system { display: inline-block; vertical-align: top; width: 15em; margin-right: 1.5em; }
.bar-row { display: flex; align-items: center; margin: 0.2em 0; font-size: 0.9em; }
.bar-label { width: 4em; }
.bar-track { flex: 1; background: #eee; height: 1em; margin: 0 0.4em; }
.bar { height: 1em; background: #3a7bd5; }
.bar.top { background: #d5573a; }
.bar-value { width: 3.5em; text-align: right; }
</style></head>
<body>
<h1>Emotion recognition from speech and text</h1>
<p>Model: __MODEL__ &middot; classes: __CLASSES__ &middot; transcripts by __ASR__</p>
<div class="row"><input type="file" id="file" accept="audio/*,.wav,.flac,.mp3,.m4a,.webm">
<button id="upload">Upload and score</button></div>
<div class="row"><button id="record">Record 3 s</button> (microphone, then scored)</div>
<div class="row" id="status"></div>
<div class="row" id="error"></div>
<div class="row" id="warnings"></div>
<div class="row">Transcript: <span id="transcript"></span> <span id="duration"></span></div>
<div class="row" id="result"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function show(data) {
  $("transcript").textContent = data.transcript || "";
  $("duration").textContent = "(" + data.duration_s.toFixed(2) + " s of audio)";
  $("warnings").textContent = (data.warnings || []).map((w) => "warning: " + w).join("\\n");
  const out = $("result");
  out.textContent = "";
  for (const name of ["speech", "text", "fused"]) {
    const sys = data.systems[name];
    if (!sys) continue;
    const box = document.createElement("div");
    box.className = "system"; box.id = "system-" + name;
    const h = document.createElement("h3");
    h.textContent = name + " (" + sys.argmax + ")";
    box.appendChild(h);
    for (const c of data.classes) {
      const p = sys.posteriors[c];
      const row = document.createElement("div"); row.className = "bar-row";
      const label = document.createElement("span"); label.className = "bar-label"; label.textContent = c;
      const track = document.createElement("span"); track.className = "bar-track";
      const bar = document.createElement("div");
      bar.className = "bar" + (c === sys.argmax ? " top" : "");
      bar.style.width = (100 * p).toFixed(1) + "%";
      bar.dataset.system = name; bar.dataset.cls = c; bar.dataset.p = p.toFixed(6);
      track.appendChild(bar);
      const value = document.createElement("span"); value.className = "bar-value";
      value.textContent = (100 * p).toFixed(1) + "%";
      row.append(label, track, value);
      box.appendChild(row);
    }
    out.appendChild(box);
  }
}
async function score(blob, name) {
  for (const id of ["error", "warnings", "transcript", "duration", "result"]) $(id).textContent = "";
  if (blob.size > __MAX_BYTES__) {
    $("error").textContent = name + ": larger than the __LIMIT__ limit of this server";
    $("status").textContent = "done: " + name;
    return;
  }
  $("status").textContent = "scoring " + name + " ...";
  const form = new FormData();
  form.append("audio", blob, name);
  try {
    const resp = await fetch("api/score", { method: "POST", body: form });
    let data;
    try { data = await resp.json(); } catch (e) { data = { error: "the server answered " + resp.status }; }
    if (!resp.ok || data.error) { $("error").textContent = data.error || ("error " + resp.status); }
    else { show(data); }
  } catch (e) {
    $("error").textContent = "could not reach the server: " + e;
  }
  $("status").textContent = "done: " + name;
}
$("upload").addEventListener("click", () => {
  const f = $("file").files[0];
  if (!f) { $("error").textContent = "choose an audio file first"; return; }
  score(f, f.name);
});
// the container a browser records in (Chrome: webm, Firefox: ogg, Safari: mp4) -> file extension
function recordingName(mime) {
  for (const [kind, ext] of [["webm", ".webm"], ["ogg", ".ogg"], ["mp4", ".m4a"], ["wav", ".wav"]]) {
    if (mime.includes(kind)) return "recording" + ext;
  }
  return "recording.audio";
}
$("record").addEventListener("click", async () => {
  for (const id of ["error", "warnings"]) $(id).textContent = "";
  if (!(navigator.mediaDevices && window.MediaRecorder)) {
    $("error").textContent = "this browser cannot record here: recording needs http://127.0.0.1, " +
      "http://localhost or https";
    return;
  }
  let stream;
  try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); }
  catch (e) { $("error").textContent = "no microphone: " + e; return; }
  const rec = new MediaRecorder(stream);
  const parts = [];
  rec.ondataavailable = (ev) => { if (ev.data.size > 0) parts.push(ev.data); };
  rec.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    $("record").disabled = false;
    if (!parts.length) { $("error").textContent = "the recording is empty"; $("status").textContent = ""; return; }
    const blob = new Blob(parts, { type: rec.mimeType });
    score(blob, recordingName(rec.mimeType));
  };
  $("record").disabled = true;
  $("status").textContent = "recording 3 s ...";
  rec.start();
  setTimeout(() => rec.stop(), 3000);
});
</script>
</body></html>
"""


def _posteriors(classes, lp) -> dict:
    import numpy as np

    p = np.exp(lp - lp.max())
    p = p / p.sum()
    return {"posteriors": {c: float(v) for c, v in zip(classes, p)}, "argmax": classes[int(np.argmax(p))]}


def _safe_suffix(filename: str) -> str:
    ext = os.path.splitext(filename or "")[1].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ".audio"


def create_app(model, max_bytes: int, log=lambda m: print(m, file=sys.stderr, flush=True)):
    """The FastAPI app serving ``model`` (a package.PackagedModel)."""
    app = FastAPI(title="emorec", docs_url=None, redoc_url=None, openapi_url=None)
    lock = threading.Lock()
    limit = f"{max_bytes / 2**20:g} MB"
    page = (PAGE.replace("__MODEL__", html.escape(str(model.dir)))
            .replace("__CLASSES__", html.escape(" ".join(model.classes)))
            .replace("__ASR__", html.escape(model.manifest["asr"]["model"]))
            .replace("__MAX_BYTES__", str(max_bytes)).replace("__LIMIT__", limit))

    def error(status: int, msg: str):
        return JSONResponse({"error": msg}, status_code=status)

    @app.middleware("http")
    async def refuse_declared_oversize(request, call_next):
        declared = request.headers.get("content-length", "")
        if request.url.path == "/api/score" and declared.isdigit() and \
                int(declared) > max_bytes + MULTIPART_SLACK:
            return error(413, f"the upload ({int(declared) / 2**20:.1f} MB) is larger than the {limit} limit "
                              f"of this server")
        return await call_next(request)

    def score_file(path: str, name: str) -> dict:
        with lock:
            try:
                res = model.score(path)
            except InferError as e:
                return {"status": 400, "error": str(e).replace(repr(path), repr(name)).replace(path, name)}
        # the temporary file's name is the server's business: messages name the upload
        out = {"transcript": res.transcript, "duration_s": res.duration_s, "classes": res.classes,
               "warnings": [w.replace(repr(path), repr(name)).replace(path, name) for w in res.warnings],
               "systems": {}}
        for sys_name in ("speech", "text", "fused"):
            lp = getattr(res, sys_name)
            if lp is not None:
                out["systems"][sys_name] = _posteriors(res.classes, lp)
        return out

    @app.get("/", response_class=HTMLResponse)
    def index():
        return page

    @app.post("/api/score")
    async def api_score(audio: UploadFile = File(...)):
        name = os.path.basename(audio.filename or "upload")
        data = await audio.read(max_bytes + 1)
        if len(data) > max_bytes:
            return error(413, f"{name}: larger than the {limit} limit of this server")
        if not data:
            return error(400, f"{name}: empty file")
        fd, path = tempfile.mkstemp(prefix="emorec-upload-", suffix=_safe_suffix(name))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            out = await run_in_threadpool(score_file, path, name)
        except Exception:  # noqa: BLE001 - the page gets a message, the log the traceback
            log(f"emorec-serve: error scoring {name}:\n{traceback.format_exc()}")
            return error(500, f"{name}: could not be scored (internal error; see the server log)")
        finally:
            os.unlink(path)
        if "error" in out:
            return error(out["status"], out["error"])
        return out

    return app
