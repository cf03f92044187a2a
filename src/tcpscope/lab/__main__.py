"""CLI: `python -m tcpscope.lab run SCENARIO --out DIR --seed N`, `make-bundled --out pcap/ --truth DIR --seed 1`,
`score CAPTURE TRUTH [--device IP]`, `verify DIR [--truth DIR]` (the classification bounds on a set)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from tcpscope.lab import CLIENT_IP
from tcpscope.lab.netns import lab_available
from tcpscope.lab.run import run_scenario
from tcpscope.lab.scenarios import scenarios
from tcpscope.lab.truth import build_truth


def summary(truth: Path) -> str:
    """One line: label counts of a truth file."""
    t = pl.read_parquet(truth)
    counts = dict(t.group_by("truth").len().sort("truth").iter_rows())
    return f"{len(t)} data packets {counts}"


def write_captures_tsv(path: Path, names: list[str]) -> None:
    """config/captures.tsv for the bundled captures (server/port/direction left blank where the scenario says so)."""
    sc = scenarios()
    lines = ["capture\tfeature\tdevice\tserver\tport\tdirection\thost"]
    for n in names:
        s = sc[n]
        lines.append(f"{n}.pcap\t{n}\t{CLIENT_IP}\t{s.server}\t{s.port}\t{s.direction}\t{s.host}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def score_main(capture: Path, truth: Path, device: str | None) -> int:
    """`score`: analyse the capture, match it to the truth file and print the three tables."""
    from tcpscope.analysis import analyze
    from tcpscope.decode import decode_capture
    from tcpscope.errors import TcpscopeError
    from tcpscope.lab.score import report_text, score

    try:
        an = analyze(decode_capture(capture).packets, device=device or None)
        s = score(an.segments, pl.read_parquet(truth), an.flows)
    except TcpscopeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report_text(s, f"{capture} vs {truth}"))
    return 0


def verify_main(captures: Path, truth: Path, device: str) -> int:
    """`verify`: score every capture of `captures` that has a truth file in `truth` and check the
    bounds (tcpscope.lab.score: F1 per class and pooled, loss rate per flow direction); print
    each check, and under a failed one the segments it missed, with the reason where the capture
    held no evidence for them (tcpscope.lab.evidence); exit 1 if any fails."""
    from tcpscope.analysis import analyze
    from tcpscope.decode import decode_capture
    from tcpscope.lab.evidence import bound_misses, unseen
    from tcpscope.lab.score import bound_checks, pooled, pooled_checks, score

    checks, matched, misses = [], [], {}
    names = sorted(p.name.removesuffix(".truth.parquet") for p in truth.glob("*.truth.parquet"))
    names = [n for n in names if (captures / f"{n}.pcap").is_file()]
    if not names:
        print(f"error: no capture in {captures} has a truth file in {truth}", file=sys.stderr)
        return 2
    for n in names:
        an = analyze(decode_capture(captures / f"{n}.pcap").packets, device=device)
        s = score(an.segments, pl.read_parquet(truth / f"{n}.truth.parquet"), an.flows)
        matched.append(s.matched)
        if (s.matched["truth"] != s.matched["pred"]).any():  # a pooled bound may fail on them too
            misses[n] = unseen(an.segments, s.matched).with_columns(capture=pl.lit(n))
        checks += bound_checks(n, s)
    checks += pooled_checks(pooled(matched))
    unexplained = 0
    for c in checks:
        print(f"{'ok  ' if c.ok else 'FAIL'} {c.capture:<22} {c.bound:<58} {c.detail}")
        if c.ok:
            continue
        pool = list(misses.values()) if c.capture == "pooled" else [misses[c.capture]]
        bm = bound_misses(c, pl.concat(pool, how="diagonal_relaxed"))
        for r in bm.iter_rows(named=True):
            why = r["reason"] or "-"
            print(f"       {r['capture']} frame {r['frame']}: {r['truth']} taken for {r['pred']} ({why})")
        if bm.height == 0 or bm["reason"].null_count():
            unexplained += 1
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} bounds hold on {len(names)} captures")
    if failed:
        print(
            f"{len(failed) - unexplained} of the {len(failed)} that fail do so only on segments the capture held "
            "no evidence for (docs/lab.md)"
        )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run."""
    ap = argparse.ArgumentParser(prog="python -m tcpscope.lab")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run one scenario")
    r.add_argument("scenario", choices=sorted(scenarios()))
    r.add_argument("--out", required=True, type=Path)
    r.add_argument("--truth", type=Path, default=None, help="truth directory (default: --out)")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--server-capture", action="store_true", help="also capture at the server vantage")
    b = sub.add_parser("make-bundled", help="regenerate all bundled captures and truth")
    b.add_argument("--out", required=True, type=Path)
    b.add_argument("--truth", required=True, type=Path)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--captures-tsv", type=Path, default=Path("config/captures.tsv"))
    b.add_argument("--only", nargs="*", default=None)
    t = sub.add_parser("truth", help="recompute truth files from existing captures and relay logs")
    t.add_argument("--pcap-dir", type=Path, default=Path("pcap"))
    t.add_argument("--truth", type=Path, default=Path("tests/fixtures/truth"))
    sub.add_parser("list", help="list scenarios")
    sc = sub.add_parser("score", help="score tcpscope's segment classes against a truth file")
    sc.add_argument("capture", type=Path)
    sc.add_argument("truth", type=Path)
    sc.add_argument("--device", default=CLIENT_IP, help=f"device IP (default {CLIENT_IP})")
    v = sub.add_parser(
        "verify",
        help="check the F1 and loss-rate bounds on a set of captures and truth files; under a failed bound, "
        "list the missed segments, with the reason where the capture held no evidence for them",
    )
    v.add_argument("captures", type=Path, help="directory of <name>.pcap (e.g. the --out of make-bundled)")
    v.add_argument("--truth", type=Path, default=None, help="directory of <name>.truth.parquet (default: captures)")
    v.add_argument("--device", default=CLIENT_IP, help=f"device IP (default {CLIENT_IP})")
    a = ap.parse_args(argv)
    if a.cmd == "verify":
        return verify_main(a.captures, a.truth or a.captures, a.device)
    if a.cmd == "score":
        return score_main(a.capture, a.truth, a.device)
    if a.cmd == "list":
        for s in scenarios().values():
            print(f"{s.name}\t{s.note}")
        return 0
    if a.cmd == "truth":
        for pcap in sorted(a.pcap_dir.glob("*.pcap")):
            stem = pcap.stem
            server = stem.endswith(".server")
            log_path = a.truth / f"{stem.removesuffix('.server')}.relay.parquet"
            if not log_path.exists():
                continue
            rows, flows = build_truth(pcap, pl.read_parquet(log_path), "server" if server else "client", CLIENT_IP)
            rows.write_parquet(a.truth / f"{stem}.truth.parquet")
            if not server:
                flows.write_csv(a.truth / f"{stem}.truth_flows.tsv", separator="\t")
            print(f"{pcap}: {summary(a.truth / f'{stem}.truth.parquet')}")
        return 0
    why = lab_available()
    if why:
        print(f"lab unavailable: {why}", file=sys.stderr)
        return 2
    if a.cmd == "run":
        res = run_scenario(scenarios()[a.scenario], a.out, a.seed, a.truth, server_capture=a.server_capture)
        if res.kernel_drops:
            print(f"warning: tcpdump lost {res.kernel_drops} packets", file=sys.stderr)
        print(f"{res.pcap}: {summary(res.truth)}")
        return 0
    names = a.only or [n for n, s in scenarios().items() if s.bundled]
    for n in names:
        for _attempt in range(3):
            sc = scenarios()[n]
            res = run_scenario(sc, a.out, a.seed, a.truth, server_capture=sc.server_capture)
            if res.kernel_drops == 0:
                break
            print(f"{n}: tcpdump lost {res.kernel_drops} packets, running again", file=sys.stderr)
        print(f"{res.pcap} ({res.pcap.stat().st_size} B): {summary(res.truth)}", flush=True)
    if not a.only:
        write_captures_tsv(a.captures_tsv, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
