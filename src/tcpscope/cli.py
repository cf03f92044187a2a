"""The `tcpscope` command line: analyse one capture the way tapo's tcp_tool did, without its traps."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from pathlib import Path

import polars as pl

from tcpscope import __version__
from tcpscope.errors import TcpscopeError
from tcpscope.memory import return_freed_memory


def _ip(text: str) -> str:
    """argparse type: an IPv4/IPv6 address in canonical text form."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def _port(text: str) -> int:
    """argparse type: a TCP port 1-65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1-65535): {text!r}")
    return value


def _milliseconds(text: str) -> float:
    """argparse type: a duration in ms, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a duration in ms (0 or more): {text!r}")
    return value


def summary_table(flows: pl.DataFrame) -> pl.DataFrame:
    """The per-flow summary printed by `analyze`: one line per connection side that sent data."""
    if flows.height == 0:
        return flows
    arrow = pl.when(pl.col("from_client")).then(pl.lit(" > ")).otherwise(pl.lit(" < "))
    return flows.filter(pl.col("data_packets") > 0).select(
        flow=pl.col("flow_id"),
        connection=pl.concat_str(
            pl.col("client"), pl.lit(":"), pl.col("client_port").cast(pl.Utf8), arrow,
            pl.col("server"), pl.lit(":"), pl.col("server_port").cast(pl.Utf8),
        ),
        dir=pl.col("direction"),
        sender=pl.col("sender"),
        seen_at=pl.col("vantage"),
        pkts=pl.col("data_packets"),
        bytes=pl.col("bytes"),
        kbit_s=(pl.col("throughput_bps") / 1e3).round(1),
        retx=pl.col("n_retransmission"),
        retx_inferred=pl.col("n_retransmission_inferred"),
        spur=pl.col("n_spurious_retransmission"),
        reord=pl.col("n_reordered"),
        dup=pl.col("n_network_duplicate"),
        loss_pct=(pl.col("loss_rate") * 100).round(2),
        reord_pct=(pl.col("reorder_rate") * 100).round(2),
        rtt_ms=pl.col("rtt_median_ms").round(1),
        hs_rtt_ms=pl.col("handshake_rtt_ms").round(1),
    )


def _cmd_analyze(args: argparse.Namespace) -> int:
    from tcpscope.pipeline import analyze_capture

    floor = {} if args.stall_floor_ms is None else {"stall_floor": args.stall_floor_ms / 1000}
    result = analyze_capture(
        args.capture, args.output, device=args.device, server=args.server, port=args.port, direction=args.direction,
        host=args.host, **floor,
    )
    table = summary_table(result.flows)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=250, fmt_str_lengths=80, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, tbl_formatting="ASCII_MARKDOWN"):
        print(table)
        stalls = pl.read_parquet(Path(args.output) / "stalls.parquet")  # docs/stalls.md
        if stalls.height:
            print(stalls.group_by("flow_id", "cause", "group").agg(
                stalls=pl.len(), seconds=pl.col("duration_s").sum().round(3)).sort("flow_id", "seconds",
                                                                                  descending=[False, True]))
    n_flows = result.flows["flow_id"].n_unique() if result.flows.height else 0
    info = json.loads((Path(args.output) / "capture.json").read_text(encoding="utf-8"))
    via = f" (decoded through {info['decoder']})" if info.get("decoder", "tcpscope") != "tcpscope" else ""
    print(f"{n_flows} connections, {result.segments.height} TCP packets{via}, {stalls.height} stalls; "
          f"tables in {args.output}", file=sys.stderr)
    return 0


def _cmd_filter(args: argparse.Namespace) -> int:
    from tcpscope.filtering import filter_capture

    counts = filter_capture(args.capture, args.device, args.output, args.text)
    print(counts, file=sys.stderr)
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from tcpscope.figures import read_segments, render_capture_figures

    d = Path(args.results)
    segments = read_segments(d / "segments.parquet")
    flows = pl.read_parquet(d / "flows.parquet")
    stalls = pl.read_parquet(d / "stalls.parquet") if (d / "stalls.parquet").is_file() else None
    out = Path(args.output or d / "figures")
    for path in render_capture_figures(segments, flows, out, args.title or d.name, stalls=stalls):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kept separate so the docs and tests can inspect it)."""
    p = argparse.ArgumentParser(
        prog="tcpscope",
        description="Per-flow TCP behaviour from packet captures: loss, reordering, RTT, bytes in flight.",
    )
    p.add_argument("--version", action="version", version=f"tcpscope {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser(
        "analyze",
        help="decode and analyse one capture into Parquet tables; print a per-flow summary",
        description="Write segments.parquet, flows.parquet, stalls.parquet and capture.json into DIR, "
        "print one line per connection side that sent data, then the stalls by cause.",
    )
    a.add_argument("capture", type=Path, help="pcap or pcapng file, optionally gzip-compressed")
    a.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder")
    a.add_argument("--device", type=_ip, help="IP of the device under study (the phone); decides up/down")
    a.add_argument("--server", type=_ip, help="server IP: overrides the client/server guess for its flows")
    a.add_argument("--port", type=_port, help="server port: overrides the client/server guess")
    a.add_argument(
        "--direction", choices=["up", "down", "auto"], default="auto",
        help="data direction of the feature (default: per flow, up when the device sends most payload)",
    )
    a.add_argument(
        "--host", metavar="GLOB",
        help="server host name pattern (TLS SNI or HTTP Host, e.g. '*.qpic.cn'): marks only its connections matched",
    )
    a.add_argument(
        "--stall-floor-ms", type=_milliseconds, metavar="MS",
        help="shortest gap that counts as a stall (default 40, Linux's delayed-ACK minimum; "
        "0: tapo's threshold min(2 SRTT, RTO) alone; docs/stalls.md)",
    )
    a.set_defaults(func=_cmd_analyze)

    f = sub.add_parser("filter", help="keep the frames to or from the device: a pcap plus a text listing")
    f.add_argument("capture", type=Path)
    f.add_argument("--device", type=_ip, action="append", default=[], help="device IP (repeatable)")
    f.add_argument("-o", "--output", type=Path, required=True, help="filtered capture to write")
    f.add_argument("--text", type=Path, required=True, help="text listing to write")
    f.set_defaults(func=_cmd_filter)

    g = sub.add_parser("figures", help="draw the time-sequence and in-flight figures of an analysed capture")
    g.add_argument("results", help="folder written by `tcpscope analyze`")
    g.add_argument("-o", "--output", help="folder for the figures (default RESULTS/figures)")
    g.add_argument("--title", help="figure title (default: the folder name)")
    g.set_defaults(func=_cmd_figures)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a subcommand; a known error is one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    return_freed_memory()  # peak RSS: freed per-packet columns leave the process (tcpscope.memory)
    try:
        return args.func(args)
    except TcpscopeError as e:
        print(f"tcpscope: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"tcpscope: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
