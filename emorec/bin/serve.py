"""A web page for an exported model: upload an audio file or record 3 s in the browser,
see the transcript and the speech, text and fused probabilities (emorec.serve).

Usage: emorec-serve --model DIR [--host 127.0.0.1] [--port 8000] [--max-mb 20]
  (also: python -m emorec.bin.serve ...)
DIR is a model exported by steps/export_model.sh. The page uses nothing from the
network; browsers allow the microphone on http://127.0.0.1 and http://localhost only
(elsewhere serve it behind HTTPS).
"""
from __future__ import annotations

import argparse
import sys

from emorec.inference import InferError

PROG = "emorec-serve"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", required=True, metavar="DIR", help="exported model (steps/export_model.sh)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    p.add_argument("--port", type=int, default=8000, help="port [8000]")
    p.add_argument("--max-mb", type=float, default=20.0, help="largest upload accepted, in MB [20]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N [auto]")
    p.add_argument("--num-threads", type=int, default=0, help="torch threads (0: torch's default)")
    return p


def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    import torch
    import uvicorn

    from emorec.package import load_package
    from emorec.runtime import pick_device
    from emorec.serve import create_app

    if a.num_threads:
        torch.set_num_threads(a.num_threads)
    try:
        model = load_package(a.model, device=pick_device(a.device))
    except InferError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    app = create_app(model, max_bytes=int(a.max_mb * 2**20))
    print(f"{PROG}: serving {a.model} on http://{a.host}:{a.port}/", file=sys.stderr, flush=True)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
