"""ASR stage (steps/transcribe.sh, emorec.asr): pocketsphinx on espeak-ng speech gives a
valid, sorted Kaldi text and a WER below 100%; a random-weight tiny Whisper built here
runs through the same transcription code path, long audio chunked at 30 s."""
import json
import subprocess

import numpy as np
import pytest
import soundfile

from emorec import asr
from emorec.fileio import read_kv

SENTENCES = {"spk1-utt1": "the weather is nice today",
             "spk1-utt2": "I love this wonderful day!",
             "spk2-utt1": "please open the door"}


def make_tiny_whisper(out_dir, letter="a"):
    """A random-weight Whisper (transformers) with a byte-level tokenizer built offline;
    its generation config suppresses every token but ``letter`` so that greedy decoding
    is deterministic: each 30 s chunk transcribes to a run of that letter."""
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor, WhisperTokenizer)
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    out_dir.mkdir(parents=True)
    vocab = {c: i for i, c in enumerate(bytes_to_unicode().values())}
    (out_dir / "vocab.json").write_text(json.dumps(vocab))
    (out_dir / "merges.txt").write_text("#version: 0.2\n")
    eot = "<|endoftext|>"
    tok = WhisperTokenizer(str(out_dir / "vocab.json"), str(out_dir / "merges.txt"), unk_token=eot,
                           bos_token=eot, eos_token=eot, pad_token=eot)
    tok.add_special_tokens({"additional_special_tokens": [
        "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>", "<|notimestamps|>"]})
    ids = {t: tok.convert_tokens_to_ids(t) for t in
           (eot, "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>", "<|notimestamps|>")}
    cfg = WhisperConfig(vocab_size=len(tok), num_mel_bins=80, d_model=16, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, max_source_positions=1500, max_target_positions=32,
                        pad_token_id=ids[eot], bos_token_id=ids[eot], eos_token_id=ids[eot],
                        decoder_start_token_id=ids["<|startoftranscript|>"])
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(cfg)
    gc = GenerationConfig.from_model_config(cfg)
    gc._from_model_config = False
    gc.is_multilingual = True
    gc.lang_to_id = {"<|en|>": ids["<|en|>"]}
    gc.task_to_id = {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]}
    gc.no_timestamps_token_id = ids["<|notimestamps|>"]
    gc.begin_suppress_tokens = []
    gc.suppress_tokens = [i for i in range(len(tok)) if i != vocab[letter]]
    gc.max_length = 12
    model.generation_config = gc
    model.save_pretrained(out_dir)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tok).save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def espeak_data(tmp_path_factory):
    """A data dir (space in its path) of three 16 kHz espeak-ng utterances with reference text."""
    d = tmp_path_factory.mktemp("asr data") / "all"
    d.mkdir()
    wavs = {}
    for utt, sentence in SENTENCES.items():
        raw = d.parent / f"{utt}.22k.wav"
        subprocess.run(["espeak-ng", "-s", "120", "-w", str(raw), sentence], check=True)
        wavs[utt] = d.parent / f"{utt} 16k.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-ar", "16000",
                        "-af", "adelay=400,apad=pad_dur=0.4", str(wavs[utt])], check=True)
    (d / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w in wavs.items()))
    (d / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in SENTENCES))
    (d / "spk2utt").write_text("spk1 spk1-utt1 spk1-utt2\nspk2 spk2-utt1\n")
    (d / "text").write_text("".join(f"{u} {t}\n" for u, t in SENTENCES.items()))
    return d


def test_transcribe_pocketsphinx(espeak_data, shell_env):
    out = espeak_data.parent / "all asr"
    r = subprocess.run(["steps/transcribe.sh", "--nj", "2", str(espeak_data), str(out)], cwd=shell_env["EMOREC_ROOT"],
                       env=shell_env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = (out / "text").read_text().splitlines()
    keys = [ln.split()[0] for ln in lines]
    assert keys == sorted(SENTENCES, key=lambda k: k.encode()) and all(len(ln.split()) > 1 for ln in lines)
    assert (out / "text.ref").read_text() == (espeak_data / "text").read_text()
    assert (out / "wav.scp").read_text() == (espeak_data / "wav.scp").read_text()
    wer_line = (out / "wer.txt").read_text()
    wer = float(wer_line.split()[1])
    assert wer_line.startswith("%WER") and 0 <= wer < 100, wer_line
    # the same through the library, and the WER agrees with it
    w = asr.word_error_rate(read_kv(espeak_data / "text"), read_kv(out / "text"))
    assert w["ref_words"] == 14 and 100 * w["wer"] == pytest.approx(wer, abs=0.01)

    # a rerun keeps the finished jobs
    r = subprocess.run(["steps/transcribe.sh", "--nj", "2", str(espeak_data), str(out)], cwd=shell_env["EMOREC_ROOT"],
                       env=shell_env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "up to date; skipping" in (out / "log/transcribe.1.log").read_text()


def test_wer_normalisation():
    assert asr.normalise_for_wer("I love this [LAUGHTER] wonderful day!  <unk> Don't") == \
        "i love this wonderful day don't"
    w = asr.word_error_rate({"a": "Hello, world.", "b": "[BREATHING]"}, {"a": "hello word", "b": "x"})
    assert w["wer"] == 0.5 and w["utts"] == 1 and w["unscored"] == 1


def test_tiny_whisper_same_code_path(tmp_path):
    model_dir = make_tiny_whisper(tmp_path / "tiny whisper")
    rec = asr.load_asr(str(model_dir), batch_size=2)
    assert isinstance(rec, asr.WhisperASR) and rec.english == {"language": "en", "task": "transcribe"}
    rng = np.random.default_rng(0)
    short = (0.1 * rng.normal(size=16000)).astype(np.float32)
    long = (0.1 * rng.normal(size=16000 * 65)).astype(np.float32)  # 3 chunks of <= 30 s
    one, three = rec.transcribe([short, long])
    assert set(one) == {"a"} and three == " ".join([one] * 3)

    # and through the entry point, from a wav.scp
    soundfile.write(tmp_path / "short.wav", short, 16000)
    (tmp_path / "wav.scp").write_text(f"u1 {tmp_path / 'short.wav'}\n")
    r = subprocess.run(["python", "-m", "emorec.bin.transcribe", "--device", "cpu", "--asr-model", str(model_dir),
                        str(tmp_path / "wav.scp"), str(tmp_path / "text")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "text").read_text() == f"u1 {one}\n"

    with pytest.raises(asr.ASRError, match="no such model|cannot load"):
        asr.load_asr(str(tmp_path / "no such model"))


def test_pocketsphinx_transcript_independent_of_batch(espeak_data):
    """A noisy utterance (the noise estimate and cepstral mean are what pocketsphinx carries
    over) gives the same words alone, first in a batch and last in a batch."""
    from emorec.audio import load_audio

    rng = np.random.default_rng(1)
    waves = [load_audio(rx, asr.SAMPLE_RATE) for rx in read_kv(espeak_data / "wav.scp").values()]
    waves = [w + (0.02 * rng.normal(size=w.size)).astype(np.float32) for w in waves]
    alone = asr.load_asr("pocketsphinx").transcribe([waves[0]])[0]
    rec = asr.load_asr("pocketsphinx")
    first = rec.transcribe(waves)[0]
    last = rec.transcribe(waves[1:] + waves[:1])[-1]
    assert alone and first == alone and last == alone, (alone, first, last)
