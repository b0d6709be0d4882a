"""emorec-serve in a real browser: Debian's chromium, headless, driven by selenium, uploads
a spoken wav to a server started on 127.0.0.1 with a small exported model and reads the
transcript and the probabilities from the page (they equal the package's own scoring);
a corrupt and an oversized file get a readable message, and the server keeps serving.
Paper 004's deployment, a one-system package of its joint HuBERT + BERT model, is served
and read the same way. The "Record 3 s" button records from chromium's fake microphone, which plays a spoken wav
(--use-file-for-fake-audio-capture), and the page shows what the server made of it."""
import concurrent.futures
import contextlib
import http.client
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile

from emorec.fileio import read_classes
from test_infer import recipe  # noqa: F401
from test_package import SUMMARY, export

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(model, shell_env, log_path, *opts):
    """emorec-serve of ``model`` on a free port of 127.0.0.1: yields (url, process)."""
    port = _free_port()
    script = Path(sys.executable).parent / "emorec-serve"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "emorec.bin.serve"]
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd + ["--model", str(model), "--host", "127.0.0.1", "--port", str(port),
                                   "--device", "cpu", "--num-threads", "1", "--max-mb", "1", *opts],
                            env=shell_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(480):
            if proc.poll() is not None:
                raise AssertionError(f"emorec-serve exited: {Path(log_path).read_text()}")
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("emorec-serve did not answer within 240 s")
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        print(Path(log_path).read_text())  # shown when the test fails


@pytest.fixture
def packaged(recipe, shell_env):  # noqa: F811
    model = recipe / "model one"
    if not model.exists():
        (recipe / "RESULTS.md").write_text(SUMMARY)
        export(recipe, shell_env, "model one", "1")
    return model


def _page_server(model, shell_env, tmp_path):
    """(url, model) of emorec-serve of ``model`` for a browser test."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (tools/install.sh --test)")
    with running_server(model, shell_env, tmp_path / "server.log") as (url, _):
        yield url, model


@pytest.fixture
def server(packaged, shell_env, tmp_path):
    yield from _page_server(packaged, shell_env, tmp_path)


JOINT_RESULTS = """# Paper 004 (tiny test models)

| system | UA % (mean ± std) | WA % (mean ± std) |
| :--- | ---: | ---: |
| `hubert` | 40.00 ± 1.00 | 41.00 ± 1.00 |
| `joint` | 55.55 ± 2.00 | 56.66 ± 2.00 |
"""


@pytest.fixture(scope="module")
def joint_packaged(tmp_path_factory):
    """Paper 004's deployment: a joint HuBERT + BERT model (tiny random encoders, one epoch
    on tones with class words) exported with the paper's whole pipeline (resample, noise
    reduction, silence removal) and pocketsphinx for the transcript."""
    from emorec.bin import train_fold
    from emorec.package import export_system
    from emorec.train.text_encoder import build_text_encoder
    from ssl_data import make_random_encoder, make_wave_fold

    root = tmp_path_factory.mktemp("joint package")
    fold = make_wave_fold(root / "fold")
    make_random_encoder("hubert", root / "hubert")
    texts = [ln.split(" ", 1)[1] for ln in (fold / "train/text").read_text().splitlines()]
    build_text_encoder(texts, root / "bert", vocab_size=60, hidden_size=16, num_layers=1, num_heads=2,
                       intermediate_size=32, max_position=32, mlm_epochs=0, log=lambda *a: None)
    cfg = root / "joint.yaml"
    cfg.write_text("model: {mode: partial}\ndata: {batch_size: 4, max_batch_seconds: 2.0}\n"
                   "train: {epochs: 1, num_threads: 1, keep_checkpoints: 0}\n")
    exp = root / "recipe exp"
    assert train_fold.main(["--family", "joint", "--config", str(cfg), "--ngpu", "0", "--ssl-model",
                            str(root / "hubert"), "--text-model", str(root / "bert"), str(fold),
                            str(exp / "joint/fold1")]) == 0
    (root / "RESULTS.md").write_text(JOINT_RESULTS)
    return export_system(exp, root / "joint model", "joint", ["1"], noise_reduction=True, trim_silence=True,
                         results_md=root / "RESULTS.md", trained_on="tiny test models", corpus="demo",
                         log=lambda m: None)


@pytest.fixture
def joint_server(joint_packaged, shell_env, tmp_path):
    yield from _page_server(joint_packaged, shell_env, tmp_path)


def _browser(*args):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must not look for drivers on the network
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu") + args:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def _click_and_wait(driver, button, name):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, button).click()
    WebDriverWait(driver, 120).until(lambda d: d.find_element(By.ID, "status").text == f"done: {name}")


def _upload(driver, path):
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "file").send_keys(str(path))
    _click_and_wait(driver, "upload", Path(path).name)


def _page_posteriors(driver, name):
    from selenium.webdriver.common.by import By

    bars = driver.find_elements(By.CSS_SELECTOR, f'.bar[data-system="{name}"]')
    return [b.get_attribute("data-cls") for b in bars], np.array([float(b.get_attribute("data-p")) for b in bars])


def _post(url, name, data):
    """POST ``data`` as the multipart file field ``audio`` named ``name``: (status, JSON)."""
    head = (f'--b\r\nContent-Disposition: form-data; name="audio"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    req = urllib.request.Request(url + "api/score", data=head + data + b"\r\n--b--\r\n",
                                 headers={"Content-Type": "multipart/form-data; boundary=b"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _say(text, wav):
    subprocess.run(["espeak-ng", "-s", "120", "-w", str(wav), text], check=True)


def test_page_upload_and_errors(server, tmp_path):
    from selenium.webdriver.common.by import By

    from emorec.package import PackagedModel

    url, model = server
    wav = tmp_path / "said.wav"
    _say("I love this wonderful day", wav)
    corrupt = tmp_path / "corrupt clip.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is not audio")
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (2 << 20))

    sine = tmp_path / "sine.wav"
    t = np.arange(3 * 16000) / 16000
    soundfile.write(sine, 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    cut = tmp_path / "cut short.wav"
    whole = wav.read_bytes()
    cut.write_bytes(whole[:len(whole) * 3 // 4])

    expected = PackagedModel(model, device="cpu").score(str(wav))
    driver = _browser()
    try:
        driver.get(url)
        assert "Emotion recognition" in driver.title or "emorec" in driver.title
        card = driver.find_element(By.ID, "card").text
        assert "Trained on: tiny test models" in card and "happy" in card and "angry" in card
        assert "fusion_w1 87.37 ± 3.46 87.29 ± 3.42" in card and "speech_scratch" not in card
        assert "synthetic demo corpus" not in card  # exported without --corpus-roots: not known to be the demo
        _upload(driver, wav)
        assert driver.find_element(By.ID, "error").text == ""
        assert driver.find_element(By.ID, "warnings").text == ""
        names = {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad"}
        assert driver.find_element(By.ID, "answer").text.startswith(f"Most likely: {names[expected.answer]} (")
        assert driver.find_element(By.ID, "playback").get_attribute("src").startswith("blob:")
        assert [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#system-fused .bar-label")] == \
            [names[c] for c in expected.classes]
        assert driver.find_element(By.ID, "transcript").text == expected.transcript
        assert driver.find_element(By.ID, "duration").text == f"({expected.duration_s:.2f} s of audio)"
        for name in ("speech", "text", "fused"):
            classes, p = _page_posteriors(driver, name)
            assert classes == expected.classes
            lp = getattr(expected, name)
            np.testing.assert_allclose(p, np.exp(lp) / np.exp(lp).sum(), atol=2e-6)

        # no speech: a warning and no answer instead of a confident class
        _upload(driver, sine)
        assert driver.find_element(By.ID, "answer").text.startswith("No answer")
        warnings = driver.find_element(By.ID, "warnings").text
        assert "'sine.wav': no speech found" in warnings and "/tmp" not in warnings
        # a truncated file: read as far as it goes, the warning on the page
        _upload(driver, cut)
        assert "'cut short.wav': truncated" in driver.find_element(By.ID, "warnings").text

        _upload(driver, corrupt)
        err = driver.find_element(By.ID, "error").text
        # in words, without libsndfile's or ffmpeg's own text or the server's file path
        assert err == "'corrupt clip.wav': cannot decode audio (corrupt or unsupported format)"
        assert driver.find_element(By.ID, "result").text == ""

        _upload(driver, big)  # refused by the page itself
        assert "big.wav: larger than the 1 MB limit" in driver.find_element(By.ID, "error").text
        # other clients: a declared size over the limit is refused before the body is sent ...
        host, port = url.split("/")[2].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.putrequest("POST", "/api/score")
        conn.putheader("Content-Type", "multipart/form-data; boundary=b")
        conn.putheader("Content-Length", str(3 << 20))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413
        assert json.load(resp)["error"] == "the upload (3.0 MB) is larger than the 1 MB limit of this server"
        conn.close()
        # ... and a file a byte over it (the request within the multipart slack) by the endpoint
        status, body = _post(url, "near.wav", b"\0" * ((1 << 20) + 1))
        assert status == 413 and body["error"] == "near.wav: larger than the 1 MB limit of this server"

        _upload(driver, wav)  # still serving
        assert driver.find_element(By.ID, "error").text == ""
        assert driver.find_element(By.ID, "transcript").text == expected.transcript
        assert len(driver.find_elements(By.CSS_SELECTOR, ".bar")) == 3 * len(expected.classes)
        # nothing on the page comes from the network
        assert not driver.find_elements(By.CSS_SELECTOR, "script[src], link[href], img[src]")
    finally:
        driver.quit()


def test_page_serves_the_joint_model_as_paper_004_deploys_it(joint_server, tmp_path):
    """A one-system package (the joint HuBERT + BERT model, noise reduction and silence
    removal in its pipeline): the card names the system, the page shows its transcript and
    its probabilities, one chart headed by its name, equal to the package's own scoring."""
    from selenium.webdriver.common.by import By

    from emorec.package import load_package
    from emorec.serve import CLASS_NAMES

    url, model = joint_server
    wav = tmp_path / "said.wav"
    _say("I love this wonderful day", wav)
    expected = load_package(model).score(str(wav))
    assert expected.speech is None and expected.text is None and expected.fused is not None
    driver = _browser()
    try:
        driver.get(url)
        card = driver.find_element(By.ID, "card").text
        assert "Trained on: tiny test models" in card
        assert "One system: joint, a joint model of the audio and its transcript; transcripts by pocketsphinx" in card
        assert "joint 55.55 ± 2.00 56.66 ± 2.00" in card and "hubert" not in card
        assert "Speech, text and fused" not in card
        assert "trained on a synthetic demo corpus (computer voices)" in card  # the manifest's corpus: demo
        _upload(driver, wav)
        assert driver.find_element(By.ID, "error").text == ""
        assert driver.find_element(By.ID, "transcript").text == expected.transcript != ""
        answer = CLASS_NAMES[expected.answer]
        assert driver.find_element(By.ID, "answer").text.startswith(f"Most likely: {answer} (")
        boxes = driver.find_elements(By.CSS_SELECTOR, "#result .system")
        assert [b.get_attribute("id") for b in boxes] == ["system-fused"]
        assert boxes[0].find_element(By.TAG_NAME, "h3").text == f"joint ({answer})"
        classes, p = _page_posteriors(driver, "fused")
        assert classes == expected.classes
        np.testing.assert_allclose(p, np.exp(expected.fused) / np.exp(expected.fused).sum(), atol=2e-6)
    finally:
        driver.quit()


@pytest.mark.parametrize("which", ["late fusion", "joint"])
def test_page_records_3_s(which, request, tmp_path):
    """Record 3 s from chromium's fake microphone playing a spoken wav: the page uploads
    the recording (webm/opus, decoded by the server through ffmpeg) and shows about 3 s of
    audio, a transcript and the probabilities of the package's systems (late fusion: three;
    the joint model: one)."""
    from selenium.webdriver.common.by import By

    url, model = request.getfixturevalue({"late fusion": "server", "joint": "joint_server"}[which])
    said = tmp_path / "fake microphone.wav"
    _say("I love this wonderful day. I love this wonderful day.", said)
    driver = _browser("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                      f"--use-file-for-fake-audio-capture={said}")
    try:
        driver.get(url)
        _click_and_wait(driver, "record", "recording.webm")
        assert driver.find_element(By.ID, "error").text == ""
        assert driver.find_element(By.ID, "record").is_enabled()
        seconds = float(driver.find_element(By.ID, "duration").text.strip("( s of audio)"))
        assert 2.0 < seconds < 6.0  # MediaRecorder stops after 3 s of the page's clock
        transcript = driver.find_element(By.ID, "transcript").text
        print("transcript of the recording:", transcript)  # e.g. "i love this one oh the law"
        # a window of the looped sentence, at whatever point the recording began: some of its words
        assert set(transcript.split()) & {"i", "love", "this", "wonderful", "day"}, transcript
        classes = read_classes(Path(model) / "classes.txt")
        for name in {"late fusion": ("speech", "text", "fused"), "joint": ("fused",)}[which]:
            got, p = _page_posteriors(driver, name)
            assert got == classes and p.sum() == pytest.approx(1, abs=1e-4) and (p >= 0).all()
    finally:
        driver.quit()


def _chunked_post(url, total):
    """POST ``total`` bytes of a multipart upload with Transfer-Encoding: chunked, reading the
    answer as soon as the server sends one: (status, JSON, bytes sent)."""
    host, port = url.split("/")[2].split(":")
    head = ('--b\r\nContent-Disposition: form-data; name="audio"; filename="big.wav"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    sent = 0
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(b"POST /api/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: multipart/form-data; boundary=b\r\n\r\n")
        chunk = head + b"\0" * (64 * 1024 - len(head))
        while sent < total:
            if select.select([s], [], [], 0)[0]:
                break  # the server has answered
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            chunk = b"\0" * len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            part = s.recv(65536)
            if not part:
                break
            answer += part
    status = int(answer.split()[1])
    body = answer.split(b"\r\n\r\n", 1)[1]
    if b"transfer-encoding: chunked" in answer.split(b"\r\n\r\n", 1)[0].lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0", 1)[0]
    return status, json.loads(body.strip()), sent


def test_busy_timeout_chunked_and_stale_uploads(packaged, shell_env, tmp_path):
    """Against a real uvicorn: a chunked body over the limit is refused while it arrives
    (not spooled in full); a worker past --timeout gives 504 and is replaced; with the one
    worker busy and no queue, another upload gets 503 while the page is still served; an
    upload a killed server left in /tmp is removed at start, a running server's is kept."""
    tmp = Path(tempfile.gettempdir())
    stale = tmp / "emorec-upload-4194305-left.wav"  # above Linux's largest pid: no such process
    live = tmp / f"emorec-upload-{os.getpid()}-inflight.wav"
    stale.write_bytes(b"x")
    live.write_bytes(b"x")
    wav = tmp_path / "said.wav"
    _say("I love this wonderful day", wav)
    try:
        with running_server(packaged, shell_env, tmp_path / "server.log", "--workers", "1", "--queue", "0",
                            "--timeout", "0.05") as (url, _):
            assert not stale.exists() and live.exists()
            status, body, sent = _chunked_post(url, 200 << 20)
            assert status == 413 and "larger than the 1 MB limit" in body["error"], body
            assert sent < 50 << 20  # refused once past the limit, long before the 200 MB were sent

            status, body = _post(url, "said.wav", wav.read_bytes())  # no model scores in 50 ms
            assert status == 504 and body["error"] == "said.wav: not scored within the 0.05 s limit of this server"
            # the replacement worker is loading: one upload waits for it, the next finds no room
            with concurrent.futures.ThreadPoolExecutor(1) as ex:
                waiting = ex.submit(_post, url, "first.wav", wav.read_bytes())
                time.sleep(1)
                status, body = _post(url, "second.wav", wav.read_bytes())
                assert status == 503 and "second.wav: the server is busy" in body["error"]
                with urllib.request.urlopen(url, timeout=60) as r:  # the page meanwhile
                    assert r.status == 200 and b"Emotion recognition" in r.read()
                assert waiting.result()[0] == 504
    finally:
        live.unlink()
