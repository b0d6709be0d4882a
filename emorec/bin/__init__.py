"""Entry points (``python -m emorec.bin.NAME``, ``emorec-infer``).

Importing this package puts the Hugging Face libraries in offline mode before any of
them is imported, so an entry point touches no network however it is started (path.sh
sets the same variables; a value the caller set is kept).
"""
import os

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_var, "1")
