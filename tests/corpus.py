"""The shared capture corpus (../shared/captures beside the repo, or $TCPSCOPE_CORPUS)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path | None:
    """The corpus folder when it holds MANIFEST.tsv, else None."""
    env = os.environ.get("TCPSCOPE_CORPUS")
    d = Path(env) if env else REPO.parent / "shared" / "captures"
    return d if (d / "MANIFEST.tsv").is_file() else None


CORPUS = corpus_dir()


def manifest() -> dict[str, dict]:
    """MANIFEST.tsv rows by file name; key=value counts of the notes column parsed to ints."""
    if CORPUS is None:
        return {}
    df = pl.read_csv(CORPUS / "MANIFEST.tsv", separator="\t", quote_char=None)
    rows = {}
    for r in df.iter_rows(named=True):
        counts = {k: int(v) for k, v in re.findall(r"(?<![a-z_])([a-z_]+)=(\d+)(?![\d.])", r["notes"])}
        rows[r["file"]] = {**r, **counts}
    return rows


MANIFEST = manifest()
needs_corpus = pytest.mark.skipif(CORPUS is None, reason="capture corpus (shared/captures) not present")


def corpus(name: str) -> Path:
    """Path of one corpus capture (skips the test when the corpus or the file is absent)."""
    if CORPUS is None or not (CORPUS / name).is_file():
        pytest.skip(f"corpus capture {name} not present")
    return CORPUS / name


def tshark_path() -> str | None:
    """tshark located the way pyshark does; None when missing."""
    try:
        import pyshark.tshark.tshark as pt

        p = pt.get_process_path()
    except Exception:
        return None
    return p if p and Path(p).exists() else None
