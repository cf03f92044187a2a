"""The common frame of a Snakemake rule script: its log file, and errors as one console line."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable

from tcpscope.errors import TcpscopeError
from tcpscope.memory import return_freed_memory
from tcpscope.timing import log_startup, stage


def run(main: Callable[[], None], log_path: str) -> None:
    """Run `main` with stdout, stderr and logging going to the rule's log file.

    A TcpscopeError (bad input, named file and reason) also goes to the console as one line
    and exits 1; anything else is a bug: its traceback is logged and it propagates.
    """
    with open(log_path, "w", encoding="utf-8") as log:
        logging.basicConfig(stream=log, level=logging.INFO, format="%(levelname)s %(message)s", force=True)
        for noisy in ("kaleido", "choreographer"):  # browser chatter would drown the log
            logging.getLogger(noisy).setLevel(logging.WARNING)
        sys.stdout = sys.stderr = log
        log_startup()
        return_freed_memory()  # peak RSS: freed per-packet columns leave the process (tcpscope.memory)
        try:
            with stage("main"):
                main()
        except TcpscopeError as exc:
            traceback.print_exc()
            print(f"tcpscope: {exc}", file=sys.__stderr__)
            sys.exit(1)
        except BaseException:
            traceback.print_exc()
            raise
