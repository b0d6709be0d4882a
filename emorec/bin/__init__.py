"""Entry points (``python -m emorec.bin.NAME``, ``emorec-infer``).

``run_main(main)`` ends every entry point: an expected failure is one line naming the
file, its traceback only with ``--verbose``.

Importing this package puts the Hugging Face libraries in offline mode before any of
them is imported, so an entry point touches no network however it is started (path.sh
sets the same variables; a value the caller set is kept).
"""
import os

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_var, "1")


def error_line(e: BaseException) -> str:
    """One line for an expected failure: the file an OSError names, then its reason."""
    if isinstance(e, OSError) and e.filename is not None:
        names = f"{e.filename}" + (f" -> {e.filename2}" if e.filename2 is not None else "")
        return f"{names}: {e.strerror or e}"
    return str(e) or type(e).__name__


def run_main(main, prog: str | None = None) -> None:
    """The ``__main__`` of an entry point: ``sys.exit(main())``, where a failure that bad
    input or the system explains (an OSError: disk full, read-only, quota, missing file;
    a ValueError: a malformed file, named with its line) is ONE line
    ``PROG: ERROR: ...`` and exit status 1. ``--verbose`` anywhere on the command line
    (or EMOREC_VERBOSE=1) adds the traceback; other exceptions are bugs and keep theirs."""
    import sys
    import traceback

    verbose = "--verbose" in sys.argv[1:] or os.environ.get("EMOREC_VERBOSE", "") not in ("", "0")
    sys.argv[1:] = [a for a in sys.argv[1:] if a != "--verbose"]
    prog = prog or os.path.basename(sys.argv[0]).removesuffix(".py")
    try:
        status = main()
    except (OSError, ValueError) as e:
        if verbose:
            traceback.print_exc()
        print(f"{prog}: ERROR: {error_line(e)}", file=sys.stderr)
        status = 1
    sys.exit(status)
