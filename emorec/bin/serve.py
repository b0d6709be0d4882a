"""A web page for an exported model: upload an audio file or record 3 s in the browser,
see the transcript and the speech, text and fused probabilities (emorec.serve).

Usage: emorec-serve --model DIR [--host 127.0.0.1] [--port 8000] [--max-mb 20] [--max-seconds 60]
                    [--workers 1] [--queue 4] [--timeout 120]
  (also: python -m emorec.bin.serve ...)
DIR is a model exported by steps/export_model.sh. The page uses nothing from the
network; browsers allow the microphone on http://127.0.0.1 and http://localhost only
(elsewhere serve it behind HTTPS). Uploads are scored by --workers processes, each
holding the model (memory: one model per worker), while the page stays responsive; at
most --queue uploads wait (more get HTTP 503), one that takes over --timeout seconds gets
504. Audio longer than --max-seconds is refused before it is decoded.
"""
from __future__ import annotations

import argparse
import sys

from emorec.inference import MIN_SPEECH_S, InferError

PROG = "emorec-serve"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", required=True, metavar="DIR", help="exported model (steps/export_model.sh)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    p.add_argument("--port", type=int, default=8000, help="port [8000]")
    p.add_argument("--max-mb", type=float, default=20.0, help="largest upload accepted, in MB [20]")
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="longest audio accepted, in seconds, checked before decoding [60]")
    p.add_argument("--min-speech", type=float, default=MIN_SPEECH_S, metavar="SECONDS",
                   help=f"less speech than this (VAD) gets no answer, only a warning [{MIN_SPEECH_S:g}]")
    p.add_argument("--workers", type=int, default=1, help="scoring processes, each with the model [1]")
    p.add_argument("--queue", type=int, default=4, help="uploads that may wait for a worker [4]")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a worker may take per upload [120]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N [auto]")
    p.add_argument("--num-threads", type=int, default=1, help="torch threads per worker [1]")
    return p


def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    import uvicorn

    from emorec.runtime import pick_device
    from emorec.serve import WorkerPool, create_app

    if a.workers < 1 or a.queue < 0 or a.timeout <= 0 or a.max_seconds <= 0:
        print(f"{PROG}: error: --workers must be >= 1, --queue >= 0, --timeout and --max-seconds > 0",
              file=sys.stderr)
        return 1
    try:
        pool = WorkerPool(a.model, device=str(pick_device(a.device)), workers=a.workers, queue=a.queue,
                          timeout=a.timeout, num_threads=a.num_threads, max_seconds=a.max_seconds,
                          min_speech_s=a.min_speech)
    except InferError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    try:
        app = create_app(pool, max_bytes=int(a.max_mb * 2**20))
        print(f"{PROG}: serving {a.model} on http://{a.host}:{a.port}/ ({a.workers} worker(s))",
              file=sys.stderr, flush=True)
        # on a stop, uploads still being scored get 5 s; closing the pool then ends them
        uvicorn.run(app, host=a.host, port=a.port, log_level="warning", timeout_graceful_shutdown=5)
    finally:
        pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
