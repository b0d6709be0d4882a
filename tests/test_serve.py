"""emorec-serve in a real browser: Debian's chromium, headless, driven by selenium, uploads
a spoken wav to a server started on 127.0.0.1 with a small exported model and reads the
transcript and the probabilities from the page (they equal the package's own scoring);
a corrupt and an oversized file get a readable message, and the server keeps serving.
The "Record 3 s" button records from chromium's fake microphone, which plays a spoken wav
(--use-file-for-fake-audio-capture), and the page shows what the server made of it."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

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


@pytest.fixture
def server(recipe, shell_env, tmp_path):  # noqa: F811
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (tools/install.sh --test)")
    rec = recipe
    model = rec / "model one"
    if not model.exists():
        (rec / "RESULTS.md").write_text(SUMMARY)
        export(rec, shell_env, "model one", "1")
    port = _free_port()
    script = Path(sys.executable).parent / "emorec-serve"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "emorec.bin.serve"]
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(cmd + ["--model", str(model), "--host", "127.0.0.1", "--port", str(port),
                                   "--device", "cpu", "--num-threads", "1", "--max-mb", "1"],
                            env=shell_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise AssertionError(f"emorec-serve exited: {(tmp_path / 'server.log').read_text()}")
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("emorec-serve did not answer within 120 s")
        yield url, model
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        print((tmp_path / "server.log").read_text())  # shown when the test fails


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

    expected = PackagedModel(model, device="cpu").score(str(wav))
    driver = _browser()
    try:
        driver.get(url)
        assert "Emotion recognition" in driver.title or "emorec" in driver.title
        _upload(driver, wav)
        assert driver.find_element(By.ID, "error").text == ""
        assert driver.find_element(By.ID, "transcript").text == expected.transcript
        assert driver.find_element(By.ID, "duration").text == f"({expected.duration_s:.2f} s of audio)"
        for name in ("speech", "text", "fused"):
            classes, p = _page_posteriors(driver, name)
            assert classes == expected.classes
            lp = getattr(expected, name)
            np.testing.assert_allclose(p, np.exp(lp) / np.exp(lp).sum(), atol=2e-6)

        _upload(driver, corrupt)
        err = driver.find_element(By.ID, "error").text
        assert "corrupt clip.wav" in err and "cannot decode audio" in err and "Traceback" not in err
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


def test_page_records_3_s(server, tmp_path):
    """Record 3 s from chromium's fake microphone playing a spoken wav: the page uploads
    the recording (webm/opus, decoded by the server through ffmpeg) and shows about 3 s of
    audio, a transcript and the three systems' probabilities."""
    from selenium.webdriver.common.by import By

    url, model = server
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
        for name in ("speech", "text", "fused"):
            got, p = _page_posteriors(driver, name)
            assert got == classes and p.sum() == pytest.approx(1, abs=1e-4) and (p >= 0).all()
    finally:
        driver.quit()
