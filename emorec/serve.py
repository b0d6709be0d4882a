"""The web page of a packaged model (paper 004 §V, Figure 9): ``emorec-serve``.

A FastAPI app with two routes:

* ``GET /``: one self-contained HTML page (no script, style or font from the network): the
  model card (what it was trained on, in words, its classes, the recipe's test UA/WA), an
  audio file upload and a 3 s browser recording (MediaRecorder, uploaded the same way),
  then playback of what was sent, a headline answer, the transcript, the warnings and the
  probabilities of each system as bar charts, classes named in full: speech, text and
  fused for a late-fusion package, the one system of a one-system package (e.g. paper
  004's joint HuBERT + BERT model), headed by its name;
* ``POST /api/score`` (multipart, field ``audio``): ``{"answer", "no_answer",
  "transcript", "classes", "class_names", "duration_s", "systems": {"speech"|"text"|"fused":
  {"posteriors": {class: p}, "argmax", "label"}}, "warnings"}`` (a one-system package's
  system is in the slot of its inputs, "fused" when it reads audio and transcript, its
  name the "label"; messages name the upload, never the server's temporary file, and
  carry no decoder's own words), or ``{"error": message}``
  with status 400 (unreadable or refused audio), 413 (over the size limit), 503 (the queue
  is full: try again), 504 (not scored within the time limit) or 500 (anything else; the
  traceback goes to the server's log, never to the page).

Scoring never runs on the event loop: a pool of ``workers`` processes (WorkerPool), each
holding the model, scores one upload at a time (pocketsphinx holds Python's global lock
while it decodes, so threads would not do), while the page and other requests are
answered. At most ``queue`` uploads wait for a worker; more get 503. A worker that takes
longer than ``timeout`` seconds is killed and replaced (its upload gets 504). Audio
longer than ``max_seconds`` is refused before it is decoded (emorec.audio reads the
duration from the header or the container), as are sample rates outside 4-384 kHz.

The size limit (``--max-mb``) is checked where it is cheapest: the page refuses a larger
file before sending it; the server refuses a request whose declared Content-Length
exceeds it (plus the multipart framing) before reading its body, and counts the bytes of
every body as they arrive (BodyLimit: a chunked upload declares no length; Starlette
would spool all of it to disk before the endpoint runs); the endpoint reads at most the
limit plus one byte of the file.

Each upload is written to a temporary file ``emorec-upload-<pid>-*`` with its extension
(wav, flac, mp3, m4a, webm... decoded by emorec.audio, through ffmpeg where libsndfile
cannot) and removed afterwards; at start, those of server processes that no longer run
(killed mid-request) are removed.
"""
from __future__ import annotations

import asyncio
import glob
import html
import multiprocessing
import os
import re
import sys
import tempfile
import threading
import traceback
from typing import Optional

# at module level: FastAPI resolves the endpoint's annotations (UploadFile) in this namespace
from fastapi import FastAPI, File, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

from emorec.inference import InferError

MULTIPART_SLACK = 64 * 1024  # bytes of multipart framing allowed over the file size limit
UPLOAD_PREFIX = "emorec-upload-"
# the classes' names in words (the recipes' label files abbreviate IEMOCAP's)
CLASS_NAMES = {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad", "exc": "excited",
               "fru": "frustrated", "sur": "surprised", "fea": "fearful", "dis": "disgust"}

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>emorec: emotion from speech and text</title>
<style>
body { font-family: sans-serif; max-width: 52em; margin: 2em auto; color: #222; }
.row { margin: 0.6em 0; }
#error { color: #a00; font-weight: bold; white-space: pre-wrap; }
#status, #duration { color: #555; }
#warnings { color: #a60; white-space: pre-wrap; }
#answer { font-size: 1.6em; margin: 0.5em 0; }
#card { background: #f4f4f4; padding: 0.3em 1em; font-size: 0.9em; }
#card table { border-collapse: collapse; } #card td, #card th { padding: 0 0.6em; text-align: left; }
.demo { color: #a00; font-weight: bold; }
.system { display: inline-block; vertical-align: top; width: 15em; margin-right: 1.5em; }
.bar-row { display: flex; align-items: center; margin: 0.2em 0; font-size: 0.9em; }
.bar-label { width: 6em; }
.bar-track { flex: 1; background: #eee; height: 1em; margin: 0 0.4em; }
.bar { height: 1em; background: #3a7bd5; }
.bar.top { background: #d5573a; }
.bar-value { width: 3.5em; text-align: right; }
</style></head>
<body>
<h1>Emotion recognition from speech and text</h1>
<div id="card">__CARD__</div>
<div class="row"><input type="file" id="file" accept="audio/*,.wav,.flac,.mp3,.m4a,.webm">
<button id="upload">Upload and score</button></div>
<div class="row"><button id="record">Record 3 s</button> (microphone, then scored)</div>
<div class="row"><audio id="playback" controls></audio></div>
<div class="row" id="status"></div>
<div id="answer"></div>
<div class="row" id="error"></div>
<div class="row" id="warnings"></div>
<div class="row">Transcript: <span id="transcript"></span> <span id="duration"></span></div>
<div class="row" id="result"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const NO_WORDS = "__NO_WORDS__";
function show(data) {
  const names = data.class_names;
  if (data.answer) {
    const p = (data.systems.fused || data.systems.speech || data.systems.text).posteriors[data.answer];
    $("answer").textContent = "Most likely: " + names[data.answer] + " (" + (100 * p).toFixed(0) + "%)";
  } else {
    $("answer").textContent = "No answer: too little speech to tell an emotion (see the warning)";
  }
  $("transcript").textContent = data.transcript === NO_WORDS ? "(no words recognised)" : (data.transcript || "");
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
    h.textContent = (sys.label || name) + " (" + names[sys.argmax] + ")";
    box.appendChild(h);
    for (const c of data.classes) {
      const p = sys.posteriors[c];
      const row = document.createElement("div"); row.className = "bar-row";
      const label = document.createElement("span"); label.className = "bar-label"; label.textContent = names[c];
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
let playing = null;
async function score(blob, name) {
  for (const id of ["error", "warnings", "answer", "transcript", "duration", "result"]) $(id).textContent = "";
  if (playing) URL.revokeObjectURL(playing);
  playing = URL.createObjectURL(blob);
  $("playback").src = playing;
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


def score_upload(model, path: str, name: str, max_seconds: Optional[float], min_speech_s: float) -> dict:
    """The JSON answer for the upload ``name`` stored at ``path``; ``{"status", "error"}``
    for audio it cannot score. The temporary file's name is the server's business: messages
    name the upload."""
    def named(msg: str) -> str:
        return msg.replace(repr(path), repr(name)).replace(path, name)

    try:
        res = model.score(path, max_seconds=max_seconds, min_speech_s=min_speech_s)
    except InferError as e:
        return {"status": 400, "error": named(e.brief)}
    out = {"answer": res.answer, "no_answer": res.no_answer and named(res.no_answer),
           "transcript": res.transcript, "duration_s": res.duration_s, "classes": res.classes,
           "class_names": {c: CLASS_NAMES.get(c, c) for c in res.classes},
           "warnings": [named(w) for w in res.warnings], "systems": {}}
    labels = system_labels(model)
    for sys_name in ("speech", "text", "fused"):
        lp = getattr(res, sys_name)
        if lp is not None:
            out["systems"][sys_name] = {**_posteriors(res.classes, lp), "label": labels.get(sys_name, sys_name)}
    return out


def system_labels(model) -> dict:
    """What the page calls each system of ``model``: a one-system package's own name (e.g.
    "joint", paper 004's HuBERT + BERT model) in the slot its inputs give it."""
    return {slot: d.get("system", slot) for slot, d in model.describe().items()}


def model_card(model) -> dict:
    """What the page says about ``model`` (a package.PackagedModel)."""
    from emorec.package import SYSTEM_VERSION

    m = model.manifest
    one = m["systems"][0] if m["version"] == SYSTEM_VERSION else None  # a one-system package (export_system)
    return {"dir": str(model.dir), "classes": list(model.classes), "asr": m["asr"]["model"],
            "trained_on": m.get("trained_on") or "", "corpus": m.get("corpus") or "",
            "results": m.get("results") or [], "members": len(model.members), "system": one}


def _worker(conn, model_dir: str, device: str, num_threads: int, max_seconds, min_speech_s) -> None:
    """One worker process: load the model, say so (its card, or the error), then score the
    uploads it is sent until its pipe closes."""
    import torch

    from emorec.package import load_package
    from emorec.runtime import quiet_transformers

    torch.set_num_threads(max(num_threads, 1))
    quiet_transformers()
    try:
        model = load_package(model_dir, device=device)
    except InferError as e:
        conn.send({"error": str(e)})
        return
    conn.send({"card": model_card(model)})
    while True:
        try:
            path, name = conn.recv()
        except EOFError:
            return
        try:
            out = score_upload(model, path, name, max_seconds, min_speech_s)
        except Exception:  # noqa: BLE001 - the page gets a message, the log the traceback
            out = {"status": 500, "error": f"{name}: could not be scored (internal error; see the server log)",
                   "log": traceback.format_exc()}
        conn.send(out)


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class WorkerPool:
    """``workers`` processes holding the model (see the module doc); ``await score(path,
    name)`` -> score_upload's answer, or a 504 one; Busy when ``queue`` uploads wait."""

    def __init__(self, model_dir, device="cpu", workers: int = 1, queue: int = 4, timeout: float = 120.0,
                 num_threads: int = 1, max_seconds: Optional[float] = 60.0, min_speech_s: float = 0.5):
        self.args = (str(model_dir), device, num_threads, max_seconds, min_speech_s)
        self.timeout, self.capacity, self.pending = timeout, workers + queue, 0
        self.ctx = multiprocessing.get_context("spawn")  # no copy of the parent's torch threads or locks
        self.idle: Optional[asyncio.Queue] = None
        self.closed = False
        self.workers = [self._start() for _ in range(workers)]  # every live one, busy or idle
        try:
            for w in self.workers:
                self.card = self._await_ready(w)
        except InferError:
            self.close()
            raise

    def _start(self):
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child,) + self.args, daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def _await_ready(self, w) -> dict:
        try:
            msg = w[1].recv()
        except EOFError:
            raise InferError(f"a scoring worker exited while loading {self.args[0]}") from None
        if "error" in msg:
            raise InferError(msg["error"])
        return msg["card"]

    def _replace(self, w, loop) -> None:
        """Kill worker ``w`` and put a fresh one in the idle queue once it is loaded (a thread)."""
        w[0].kill()
        w[0].join()
        w[1].close()
        self.workers.remove(w)

        def respawn():
            new = self._start()
            self.workers.append(new)
            if self.closed:  # the server stopped meanwhile
                self.close()
                return
            try:
                self._await_ready(new)
            except InferError as e:  # the model dir changed under the server, or it is stopping
                print(f"emorec-serve: a replacement worker did not start: {e}", file=sys.stderr, flush=True)
                return
            loop.call_soon_threadsafe(self.idle.put_nowait, new)

        threading.Thread(target=respawn, daemon=True).start()

    async def score(self, path: str, name: str) -> dict:
        if self.idle is None:  # the event loop's queue, made on it
            self.idle = asyncio.Queue()
            for w in self.workers:
                self.idle.put_nowait(w)
        if self.pending >= self.capacity:
            raise Busy()
        self.pending += 1
        try:
            w = await self.idle.get()
            try:
                w[1].send((path, name))
                done = await asyncio.to_thread(w[1].poll, self.timeout)
                out = w[1].recv() if done else None
            except (EOFError, OSError):  # the worker died (out of memory?)
                self._replace(w, asyncio.get_running_loop())
                raise
            if out is None:
                self._replace(w, asyncio.get_running_loop())
                return {"status": 504, "error": f"{name}: not scored within the {self.timeout:g} s limit of "
                                                f"this server"}
            self.idle.put_nowait(w)
            return out
        finally:
            self.pending -= 1

    def close(self) -> None:
        """Stop every worker (a worker reading its pipe exits when it closes)."""
        self.closed = True
        for proc, conn in list(self.workers):
            conn.close()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


class BodyLimit:
    """ASGI middleware: 413 for a ``path`` request whose body (declared, or counted as it
    arrives, chunked or not) exceeds ``limit`` bytes; reading stops there."""

    def __init__(self, app, path: str, limit: int, refuse):
        self.app, self.path, self.limit, self.refuse = app, path, limit, refuse

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self.refuse(int(declared))(scope, receive, send)
        seen, over = 0, False

        async def counted():
            nonlocal seen, over
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > self.limit:
                over = True
                raise OSError("request body over the limit")  # stops the multipart parser
            return msg

        async def unless_over(msg):
            if not over:
                await send(msg)

        try:
            await self.app(scope, counted, unless_over)
        except Exception:  # noqa: BLE001 - the parser's error after `over`; anything else is re-raised
            if not over:
                raise
        if over:
            await self.refuse(seen)(scope, receive, send)


def remove_stale_uploads(tmpdir: Optional[str] = None, log=print) -> None:
    """Remove the temporary uploads of server processes that no longer run (a kill -9)."""
    for path in glob.glob(os.path.join(tmpdir or tempfile.gettempdir(), UPLOAD_PREFIX + "*")):
        m = re.match(re.escape(UPLOAD_PREFIX) + r"(\d+)-", os.path.basename(path))
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            try:
                os.unlink(path)
                log(f"emorec-serve: removed {path}, left by a server that was stopped mid-request")
            except OSError:
                pass  # another server's cleanup was first


def card_html(card: dict) -> str:
    """The page's model card: what it was trained on, its classes, the recipe's test results."""
    e = html.escape
    trained = card["trained_on"] or "not stated in the model's manifest"
    out = [f"<p><b>Trained on:</b> {e(trained)}</p>"]
    if card["corpus"] in ("demo", "mixed"):  # from the data prep's corpus_roots (export_model --corpus-roots)
        partly = "partly " if card["corpus"] == "mixed" else ""
        out.append(f'<p class="demo">This model was trained {partly}on a synthetic demo corpus (computer voices): '
                   "it shows that the system runs, its answers say nothing about real emotional speech.</p>")
    out.append("<p><b>Classes:</b> " + ", ".join(f"{e(CLASS_NAMES.get(c, c))}" for c in card["classes"]) + "</p>")
    rows = [[c.strip() for c in r.strip().strip("|").split("|")] for r in card["results"]]
    if len(rows) > 2:
        out.append("<p><b>Test results of the recipe</b> (its RESULTS.md: held-out test parts only; "
                   "UA: mean recall of the classes, WA: accuracy):</p><table>")
        out += ["<tr>" + "".join(f"<{t}>{e(c.strip('`'))}</{t}>" for c in r[:3]) + "</tr>"
                for t, r in [("th", rows[0])] + [("td", r) for r in rows[2:]]]
        out.append("</table>")
    n = card["members"]
    ensemble = f"an ensemble of {n} fold models" if n > 1 else ""
    one = card["system"]
    if one is None:
        systems = f"Speech, text and fused systems{', each ' + ensemble if ensemble else ''}"
    else:
        reads = " and its transcript" if "text" in one["inputs"] else ""
        systems = (f"One system: {e(one['name'])}, a {e(one['family'])} model of the audio{reads}"
                   f"{', ' + ensemble if ensemble else ''}")
    asr = f"; transcripts by {e(card['asr'])}" if one is None or "text" in one["inputs"] else ""
    out.append(f"<p>{systems}{asr}. Model: {e(os.path.basename(card['dir'].rstrip('/')))}</p>")
    return "\n".join(out)


def create_app(pool: WorkerPool, max_bytes: int, log=lambda m: print(m, file=sys.stderr, flush=True)):
    """The FastAPI app scoring uploads with ``pool``."""
    from emorec.asr import NO_WORDS

    remove_stale_uploads(log=log)
    app = FastAPI(title="emorec", docs_url=None, redoc_url=None, openapi_url=None)
    limit = f"{max_bytes / 2**20:g} MB"
    page = (PAGE.replace("__CARD__", card_html(pool.card)).replace("__NO_WORDS__", NO_WORDS)
            .replace("__MAX_BYTES__", str(max_bytes)).replace("__LIMIT__", limit))

    def error(status: int, msg: str):
        return JSONResponse({"error": msg}, status_code=status)

    app.add_middleware(BodyLimit, path="/api/score", limit=max_bytes + MULTIPART_SLACK, refuse=lambda n: error(
        413, f"the upload ({n / 2**20:.1f} MB) is larger than the {limit} limit of this server"))

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
        fd, path = tempfile.mkstemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-", suffix=_safe_suffix(name))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            out = await pool.score(path, name)
        except Busy:
            return error(503, f"{name}: the server is busy (every worker is scoring and the queue is full); "
                              f"try again in a moment")
        except Exception:  # noqa: BLE001 - the page gets a message, the log the traceback
            log(f"emorec-serve: error scoring {name}:\n{traceback.format_exc()}")
            return error(500, f"{name}: could not be scored (internal error; see the server log)")
        finally:
            os.unlink(path)
        if "log" in out:
            log(f"emorec-serve: error scoring {name}:\n{out['log']}")
        if "error" in out:
            return error(out["status"], out["error"])
        return out

    return app
