"""How often the lost-above count's choice is right where it has to choose, from the relay's logs.

At a receiver's vantage, an ID gap right after the sender's highest segment, before a re-send,
hid either new data above the bytes seen (lost: its re-send later looks new) or re-sends of
holes below (lost again). The count (docs/classification.md, "Segments lost above the bytes
seen") takes the hidden packets for re-sends where the holes below the re-send could account
for them all. This script reads what the relay did to every packet of every set under DIR
(`<scenario>.relay.parquet`, docs/lab.md) and counts, per such gap, what the hidden packets
truly carried: so the count's story is measured where the capture cannot settle it.

    .venv/bin/python benchmarks/lost_above_census.py DIR   # DIR/seedN/*.relay.parquet, e.g. `seeds --dir`

A receiver's vantage: the server's capture for the phone's packets (c2s), the phone's for the
server's (s2c); a packet the relay dropped never reached it. Holes are counted in segments of
1448 bytes, from the bytes that reached it, below the re-send's first byte. A measurement
script over the lab's logs, not a hot path: one Python pass per connection.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

SEGMENT = 1448


def _gaps(seq: list[int], ln: list[int], dropped: list[bool]) -> list[dict]:
    """The gaps of one connection direction (in send order) right after its highest segment that
    reached the receiver, before a re-send that did: hidden packets, what they were, holes below."""
    out, top, seen = [], None, []
    for i in range(len(seq)):
        if ln[i] == 0 or dropped[i]:
            continue
        end = seq[i] + ln[i]
        seen.append((seq[i], end))
        is_top = top is None or end >= top
        top = end if is_top else top
        j = i + 1
        while j < len(seq) and dropped[j]:
            j += 1
        if not (is_top and j > i + 1 and j < len(seq) and ln[j] > 0 and seq[j] < top):
            continue
        hidden = [h for h in range(i + 1, j) if ln[h] > 0]
        missing, reach = 0, 0
        for lo, hi in sorted(seen):
            if lo >= seq[j]:
                break
            missing += max(lo - reach, 0)
            reach = max(reach, min(hi, seq[j]))
        out.append({
            "hidden": j - i - 1,
            "hidden_new": sum(seq[h] >= top for h in hidden),
            "hidden_resent": sum(seq[h] < top for h in hidden),
            "holes_below": -(-missing // SEGMENT),
            "next_needless": any(lo <= seq[j] and seq[j] + ln[j] <= hi for lo, hi in seen),
        })
    return out


def census(root: Path) -> pl.DataFrame:
    """One row per gap over every relay log under `root`."""
    rows = []
    for log_path in sorted(root.glob("seed*/*.relay.parquet")):
        log = pl.read_parquet(log_path)
        for (_d, *_), g in log.group_by("dir", "src", "sport", "dst", "dport"):
            g = g.sort("idx")
            data = g.filter(pl.col("len") > 0)
            if data.height < 3:
                continue
            base = int(data["seq"][0])
            seq = [((int(v) - base + (1 << 31)) % (1 << 32)) - (1 << 31) for v in g["seq"]]
            for r in _gaps(seq, g["len"].to_list(), (g["action"] == "drop").to_list()):
                rows.append({"log": f"{log_path.parent.name}/{log_path.name}", **r})
    schema = {"log": pl.String, "hidden": pl.Int64, "hidden_new": pl.Int64, "hidden_resent": pl.Int64,
              "holes_below": pl.Int64, "next_needless": pl.Boolean}
    return pl.DataFrame(rows, schema=schema)


def main(argv: list[str] | None = None) -> int:
    """Print the census: gaps, split by whether the holes below could account for every hidden packet."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path, help="directory of lab sets (DIR/seedN/*.relay.parquet)")
    a = ap.parse_args(argv)
    if not any(a.dir.glob("seed*/*.relay.parquet")):
        print(f"error: no relay log in {a.dir}/seed*/ (make sets with `python -m tcpscope.lab seeds`)", file=sys.stderr)
        return 2
    df = census(a.dir)
    if df.is_empty():
        print(f"error: no gap after a highest segment in {a.dir}/seed*/*.relay.parquet", file=sys.stderr)
        return 2
    sets = df["log"].str.split("/").list.first().n_unique()
    print(f"{df.height} gaps right after the highest segment, before a re-send ({sets} of the sets have one)")
    table = (
        df.group_by(holes_cover=pl.col("holes_below") >= pl.col("hidden"), next_needless="next_needless")
        .agg(gaps=pl.len(), hidden=pl.col("hidden").sum(), new=pl.col("hidden_new").sum(),
             resent=pl.col("hidden_resent").sum())
        .sort("holes_cover", "next_needless")
    )
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True):
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
