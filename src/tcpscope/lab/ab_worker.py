"""Worker of the class A/B (tcpscope.lab.ab): classify captures with whichever tcpscope is importable.

`ab` runs this file's text with `python -c`, with PYTHONPATH set to one source tree's `src`, so
the tree under test is the one imported (not the one `ab` runs from); it therefore imports
nothing from the lab and uses only `decode_capture` and `analyze`, which every tree has.
Arguments: a JSON file of `[path, name, device or null]` triples (`name` fills `capture`), and the Parquet file to write: one
row per data segment (`capture`, `frame`, the score's key, `seg_class`, `seg_basis`) and one row
per capture that failed (`error` set, the other columns null).
"""

import json
import sys

import polars as pl


def _segments(path: str, capture: str, device: "str | None") -> pl.DataFrame:
    from tcpscope.analysis import analyze
    from tcpscope.decode import decode_capture

    segs = analyze(decode_capture(path).packets, device=device).segments.filter(pl.col("len") > 0)
    basis = pl.col("seg_basis") if "seg_basis" in segs.columns else pl.lit(None, pl.String)
    return segs.select(
        capture=pl.lit(capture),
        frame=pl.col("frame").cast(pl.Int64),
        src=pl.col("src").cast(pl.String),
        sport=pl.col("sport").cast(pl.Int64),
        dst=pl.col("dst").cast(pl.String),
        dport=pl.col("dport").cast(pl.Int64),
        seq=pl.col("seq").cast(pl.Int64),
        len=pl.col("len").cast(pl.Int64),
        ip_id=pl.col("ip_id").cast(pl.Int64),
        seg_class=pl.col("seg_class").cast(pl.String),
        seg_basis=basis.cast(pl.String),
        error=pl.lit(None, pl.String),
    )


def main(jobs_json: str, out: str) -> None:
    """Classify every capture listed in `jobs_json` and write the rows to `out`."""
    with open(jobs_json) as f:
        jobs = json.load(f)
    parts = []
    for path, capture, device in jobs:
        try:
            parts.append(_segments(path, capture, device))
        except Exception as e:  # noqa: BLE001 - any failure is the tree's answer for that capture
            msg = f"{type(e).__name__}: {e}".splitlines()[0][:500]
            parts.append(pl.DataFrame({"capture": [capture], "error": [msg]}))
    df = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
    df.write_parquet(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
