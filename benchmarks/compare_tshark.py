"""tcpscope vs tshark (and tcptrace) against the lab's ground truth.

For every capture with a truth file, prints per-class F1 of tcpscope beside tshark's, both scored
by `tcpscope.lab.score` against the same truth rows, then the pooled scores; with tcptrace on the
PATH, also the per-flow-direction re-sent data packet counts (tcptrace -l only gives totals).

tshark's expert flags per frame map to our classes (first match wins):
  tcp.analysis.zero_window_probe -> window_probe, tcp.analysis.keep_alive -> keepalive,
  tcp.analysis.spurious_retransmission -> spurious_retransmission,
  tcp.analysis.retransmission / fast_retransmission -> retransmission,
  tcp.analysis.out_of_order -> reordered, none (duplicate_ack, lost_segment, ...) -> new.

    .venv/bin/python benchmarks/compare_tshark.py [--pcap-dir pcap] [--truth-dir tests/fixtures/truth] [--device IP]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

from tcpscope.analysis import analyze
from tcpscope.decode import decode_capture
from tcpscope.lab.score import class_scores, match, table_text

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("new", "retransmission", "spurious_retransmission", "reordered")

FLAGS = [
    ("tcp.analysis.zero_window_probe", "window_probe"),
    ("tcp.analysis.keep_alive", "keepalive"),
    ("tcp.analysis.spurious_retransmission", "spurious_retransmission"),
    ("tcp.analysis.retransmission", "retransmission"),
    ("tcp.analysis.fast_retransmission", "retransmission"),
    ("tcp.analysis.out_of_order", "reordered"),
]
KEY_FIELDS = ["frame.number", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.seq_raw", "tcp.len", "ip.id"]


def tshark_path() -> str:
    """tshark as pyshark finds it (the same binary the decoder tests use)."""
    from pyshark.tshark.tshark import get_process_path

    return get_process_path()


def tshark_segments(pcap: Path) -> pl.DataFrame:
    """One row per TCP packet with the identifying columns and tshark's class (`seg_class`)."""
    fields = KEY_FIELDS + [f for f, _ in FLAGS] + ["tcp.analysis.duplicate_ack"]
    cmd = [tshark_path(), "-n", "-r", str(pcap), "-Y", "tcp", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        v = line.split("\t")
        if len(v) < len(fields) or not v[5]:
            continue
        flags = dict(zip(fields[len(KEY_FIELDS):], v[len(KEY_FIELDS):]))
        cls = next((c for f, c in FLAGS if flags.get(f)), "new")
        rows.append(
            {
                "frame": int(v[0]),
                "src": v[1],
                "sport": int(v[2]),
                "dst": v[3],
                "dport": int(v[4]),
                "seq": int(v[5]),
                "len": int(v[6]),
                "ip_id": int(v[7], 16) if v[7] else None,
                "seg_class": cls,
            }
        )
    schema = {"frame": pl.UInt32, "src": pl.Utf8, "sport": pl.UInt16, "dst": pl.Utf8, "dport": pl.UInt16,
              "seq": pl.UInt32, "len": pl.UInt32, "ip_id": pl.UInt32, "seg_class": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)


def tcptrace_rexmt(pcap: Path) -> pl.DataFrame:
    """tcptrace -l: per connection and direction, 'rexmt data pkts' and 'actual data pkts'."""
    out = subprocess.run(["tcptrace", "-l", "-n", str(pcap)], capture_output=True, text=True, check=True).stdout
    rows = []
    for block in out.split("TCP connection ")[1:]:
        hosts = re.findall(r"host \w+:\s+(\S+):(\d+)", block)
        if len(hosts) != 2:
            continue
        (a, ap), (b, bp) = hosts

        def two(label: str) -> tuple[int, int]:
            m = re.search(rf"{label}:\s+(\d+)\s+{label}:\s+(\d+)", block)
            return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

        rex, data = two("rexmt data pkts"), two("actual data pkts")
        rows.append({"src": a, "sport": int(ap), "dst": b, "dport": int(bp), "tcptrace_rexmt": rex[0], "tcptrace_data": data[0]})
        rows.append({"src": b, "sport": int(bp), "dst": a, "dport": int(ap), "tcptrace_rexmt": rex[1], "tcptrace_data": data[1]})
    return pl.DataFrame(rows, schema={"src": pl.Utf8, "sport": pl.Int64, "dst": pl.Utf8, "dport": pl.Int64,
                                      "tcptrace_rexmt": pl.Int64, "tcptrace_data": pl.Int64})


def side_by_side(ours: pl.DataFrame, theirs: pl.DataFrame) -> pl.DataFrame:
    """Per class: support, tcpscope P/R/F1, tshark P/R/F1."""
    a = ours.select("class", "support", "predicted", tcpscope_p="precision", tcpscope_r="recall", tcpscope_f1="f1")
    b = theirs.select("class", pl.col("predicted").alias("_theirs"), tshark_p="precision", tshark_r="recall",
                      tshark_f1="f1")
    out = a.join(b, on="class", how="full", coalesce=True).with_columns(pl.col("support", "predicted", "_theirs").fill_null(0))
    shown = pl.col("class").is_in(SHOWN) & ((pl.col("support") + pl.col("predicted") + pl.col("_theirs")) > 0)
    order = pl.col("class").replace_strict({c: i for i, c in enumerate(SHOWN)}, default=len(SHOWN))
    return out.filter(shown).sort(order).drop("predicted", "_theirs")


def per_direction_resends(matched_ours: pl.DataFrame, pcap: Path) -> pl.DataFrame:
    """Re-sent data packets per flow direction: truth, tcpscope and tcptrace (retransmission + spurious)."""
    resent = pl.col("truth").is_in(["retransmission", "spurious_retransmission"])
    ours = matched_ours.group_by("src", "sport", "dst", "dport").agg(
        data=pl.len(),
        truth_rtx=(pl.col("truth") == "retransmission").sum(),
        truth_resent=resent.sum(),
        tcpscope_rtx=(pl.col("pred") == "retransmission").sum(),
        tcpscope_resent=pl.col("pred").is_in(["retransmission", "spurious_retransmission"]).sum(),
    )
    if shutil.which("tcptrace"):
        ours = ours.join(tcptrace_rexmt(pcap), on=["src", "sport", "dst", "dport"], how="left")
    return ours.filter(pl.col("data") >= 20).sort("src", "sport", "dst", "dport")


def main(argv: list[str] | None = None) -> int:
    """Print the tables for every capture with a truth file, then pooled."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcap-dir", type=Path, default=ROOT / "pcap")
    ap.add_argument("--truth-dir", type=Path, default=ROOT / "tests" / "fixtures" / "truth")
    ap.add_argument("--device", default="192.168.2.2")
    a = ap.parse_args(argv)
    pooled_ours, pooled_theirs = [], []
    for tf in sorted(a.truth_dir.glob("*.truth.parquet")):
        name = tf.name.removesuffix(".truth.parquet")
        pcap = a.pcap_dir / f"{name}.pcap"
        if not pcap.exists():
            continue
        truth = pl.read_parquet(tf)
        an = analyze(decode_capture(pcap).packets, device=a.device)
        m_ours = match(an.segments, truth)
        m_theirs = match(tshark_segments(pcap), truth)
        pooled_ours.append(m_ours.select("truth", "pred"))
        pooled_theirs.append(m_theirs.select("truth", "pred"))
        print(f"== {name} ({truth.height} data packets)")
        print(table_text(side_by_side(class_scores(m_ours), class_scores(m_theirs))))
        print()
        print(table_text(per_direction_resends(m_ours, pcap)))
        print(flush=True)
    if pooled_ours:
        po, pt = pl.concat(pooled_ours), pl.concat(pooled_theirs)
        print(f"== pooled ({po.height} data packets)")
        print(table_text(side_by_side(class_scores(po), class_scores(pt))))
        print()
        print("tshark's labels for the true classes (pooled; rows: truth, columns: tshark):")
        conf = pt.group_by("truth", "pred").len().pivot(on="pred", index="truth", values="len").fill_null(0)
        print(table_text(conf.sort("truth")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
