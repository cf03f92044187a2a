"""CLI: `python -m tcpscope.lab run SCENARIO --out DIR --seed N`, `make-bundled --out pcap/ --truth DIR --seed 1`,
`score CAPTURE TRUTH [--device IP]`, `verify DIR [--truth DIR]` (the classification bounds on a set),
`seeds 2,5-9 --dir DIR` (a set per seed, made and verified, summed up), `explain CAPTURE FRAME` (a
segment in its flow, with truth and the packets the relay dropped), `ab REV PATH...` (every class that
changed between a git revision and the working tree, and whether it moved to its truth)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import polars as pl

from tcpscope.lab import CLIENT_IP
from tcpscope.lab.netns import lab_available
from tcpscope.lab.run import make_set, run_scenario
from tcpscope.lab.scenarios import scenarios
from tcpscope.lab.truth import build_truth, truth_summary


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
    """`verify`: check the bounds on one set (tcpscope.lab.verify); print each check, and under a
    failed one the segments it missed, with the reason where the capture held no evidence for
    them; exit 1 if any fails."""
    from tcpscope.lab.verify import VerifyError, set_report, verify_set

    try:
        res = verify_set(captures, truth, device)
    except VerifyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(set_report(res))
    return 0 if res.ok else 1


def explain_main(capture: Path, frame: int, truth_dir: Path | None, device: str, before: int, after: int) -> int:
    """`explain`: print FRAME's connection around it with classes, truth and hidden packets."""
    from tcpscope.analysis import analyze
    from tcpscope.decode import decode_capture
    from tcpscope.errors import TcpscopeError
    from tcpscope.lab.explain import context, context_text

    stem = capture.name.removesuffix(".pcap")
    tdir = truth_dir or capture.parent
    truth_path = tdir / f"{stem}.truth.parquet"
    log_path = tdir / f"{stem.removesuffix('.server')}.relay.parquet"
    try:
        if not truth_path.is_file():
            raise TcpscopeError(f"{truth_path}: no truth file for {capture}")
        segs = analyze(decode_capture(capture).packets, device=device or None).segments
        log = pl.read_parquet(log_path) if log_path.is_file() else None
        vantage = "server" if stem.endswith(".server") else "client"
        rows = context(segs, pl.read_parquet(truth_path), log, frame, vantage, CLIENT_IP, before, after)
    except TcpscopeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{capture} frame {frame} ({vantage} side; '-' frames: dropped by the relay before this capture point)")
    print(context_text(rows, frame))
    return 0


def _make_seed_set(d: Path, seed: int, names: list[str]) -> None:
    """Make seed's set in `d` (as root), from scratch; its captures.tsv last, so a set counts as made
    only once complete."""
    shutil.rmtree(d, ignore_errors=True)  # a set left half made by an earlier run
    make_set(d, d, seed, names, log=lambda line: print(f"  seed {seed}: {line}", file=sys.stderr, flush=True))
    write_captures_tsv(d / "captures.tsv", names)


def seeds_main(spec: str, root: Path, names: list[str] | None, make: bool, device: str, jobs: int = 1) -> int:
    """`seeds`: for each seed, make its set in ROOT/seedN (as root; kept and reused once complete:
    its captures.tsv is written last) unless `make` is off, `jobs` sets at a time (each in its own
    namespaces), verify it, print one verdict per seed in seed order and the sum; exit 1 if any set
    fails a bound, 2 if one could not be made or verified."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from tcpscope.lab.verify import VerifyError, parse_seeds, pooled_report, seed_line, seeds_report, verify_set

    try:
        seeds = parse_seeds(spec)
    except VerifyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = names or [n for n, s in scenarios().items() if s.bundled]
    results, missing = {}, []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        made: dict[int, Future[None] | str] = {}
        for seed in seeds:
            d = root / f"seed{seed}"
            if not (d / "captures.tsv").is_file():
                why = "not made (--no-make)" if not make else lab_available()
                made[seed] = why if why else pool.submit(_make_seed_set, d, seed, names)
        for seed in seeds:
            d, job = root / f"seed{seed}", made.get(seed)
            if isinstance(job, str):
                print(f"seed {seed:<5} {job}", flush=True)
                missing.append(seed)
                continue
            try:
                if job is not None:
                    job.result()
                results[seed] = verify_set(d, d, device)
            except VerifyError as e:
                print(f"seed {seed:<5} error: {e}", flush=True)
                missing.append(seed)
                continue
            print(seed_line(seed, results[seed]), flush=True)
    if results:
        print(pooled_report(results))
    print(seeds_report(results, missing))
    if missing:
        return 2
    return 0 if all(r.ok for r in results.values()) else 1


def ab_main(base: str, new_rev: str | None, paths: list[Path], truth_dirs: list[Path], device: str | None,
            jobs: int, cache: Path | None, out: Path | None, limit: int) -> int:
    """`ab`: classify the captures under PATHS with BASE (a git revision or a source directory) and
    with the working tree (or --new), print what changed and how it moved against the truth; exit 2
    when it cannot run."""
    import tempfile

    from tcpscope.lab.ab import AbError, ab_report, find_captures, run_ab, tree, working_tree

    def log(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix="tcpscope-ab-trees-") as tmp:
            repo, trees = Path.cwd(), (cache / "trees" if cache else Path(tmp))
            old = tree(base, repo, trees)
            new = tree(new_rev, repo, trees) if new_rev else working_tree()
            captures = find_captures(paths)
            log(f"{len(captures)} captures; {jobs} worker(s) per tree")
            res = run_ab(old, new, captures, truth_dirs, device, jobs, cache, log)
    except AbError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        res.changed.write_parquet(out)
    print(ab_report(res, limit))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run."""
    ap = argparse.ArgumentParser(prog="python -m tcpscope.lab")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run one scenario")
    r.add_argument("scenario", choices=sorted(scenarios()))
    r.add_argument("--out", required=True, type=Path)
    r.add_argument("--truth", type=Path, default=None, help="truth directory (default: --out)")
    seed_help = "drives the relay's impairments and the send_text chat schedule (default 1, the bundled set's)"
    r.add_argument("--seed", type=int, default=1, help=seed_help)
    r.add_argument("--server-capture", action="store_true", help="also capture at the server vantage")
    b = sub.add_parser("make-bundled", help="regenerate all bundled captures and truth")
    b.add_argument("--out", required=True, type=Path)
    b.add_argument("--truth", required=True, type=Path)
    b.add_argument("--seed", type=int, default=1, help=seed_help)
    b.add_argument("--captures-tsv", type=Path, default=Path("config/captures.tsv"))
    b.add_argument("--only", nargs="*", default=None, choices=sorted(scenarios()), metavar="SCENARIO")
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
    m = sub.add_parser(
        "seeds",
        help="make a set per seed (as make-bundled; reused once complete) and verify each: one verdict per "
        "seed, then how many pass, fail only without evidence, or fail on the classifier's errors",
    )
    m.add_argument("seeds", help="seeds, e.g. 2,5-9,122-137")
    m.add_argument("--dir", required=True, type=Path, help="the sets go to DIR/seedN")
    m.add_argument("--only", nargs="*", default=None, choices=sorted(scenarios()), metavar="SCENARIO",
                   help="scenarios to make (default: the bundled ones)")
    m.add_argument("--no-make", action="store_true", help="verify only the sets already made (no root needed)")
    m.add_argument("--jobs", type=int, default=1, help="sets made at a time, each in its own namespaces (default 1; "
                   "a set's traffic is real time, so two take about as long as one on two CPUs)")
    m.add_argument("--device", default=CLIENT_IP, help=f"device IP (default {CLIENT_IP})")
    e = sub.add_parser("explain", help="print a segment's connection around it: tcpscope's class, the truth "
                       "label, what the relay did, and the packets it dropped before the capture point")
    e.add_argument("capture", type=Path, help="a lab capture (NAME.pcap or NAME.server.pcap)")
    e.add_argument("frame", type=int, help="frame number (as verify prints it)")
    e.add_argument("--truth", type=Path, default=None, help="directory of the truth and relay files "
                   "(default: the capture's)")
    e.add_argument("--before", type=int, default=15, help="captured packets before the frame (default 15)")
    e.add_argument("--after", type=int, default=15, help="captured packets after the frame (default 15)")
    e.add_argument("--device", default=CLIENT_IP, help=f"device IP (default {CLIENT_IP})")
    ab = sub.add_parser(
        "ab", help="classify captures with a git revision and with the working tree (or --new REV); print "
        "every data segment whose class changed, and whether it moved to its lab truth or away from it")
    ab.add_argument("base", help="what to compare against: a git revision of the checkout run from (e.g. HEAD, "
                    "main~3), or a directory holding a tcpscope source tree (a checkout or its src/)")
    ab.add_argument("paths", nargs="+", type=Path, help="capture files, or directories searched for captures")
    ab.add_argument("--new", default=None, metavar="REV", help="compare with this revision (or directory), "
                    "not the working tree")
    ab.add_argument("--truth", action="append", type=Path, default=[], metavar="DIR",
                    help="where <name>.truth.parquet is when not beside the capture (repeatable; e.g. "
                    "tests/fixtures/truth for pcap/)")
    ab.add_argument("--device", default=None, help=f"device IP for every capture (default: {CLIENT_IP} "
                    "for a capture with truth, else tcpscope's guess)")
    ab.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)")
    ab.add_argument("--cache", type=Path, default=None, metavar="DIR",
                    help="keep a revision's classes here and reuse them while the captures are unchanged")
    ab.add_argument("--out", type=Path, default=None, help="write every changed segment to this Parquet file")
    ab.add_argument("--limit", type=int, default=50, help="changed segments printed (default 50)")
    a = ap.parse_args(argv)
    if a.cmd == "ab":
        return ab_main(a.base, a.new, a.paths, a.truth, a.device, a.jobs, a.cache, a.out, a.limit)
    if a.cmd == "explain":
        return explain_main(a.capture, a.frame, a.truth, a.device, a.before, a.after)
    if a.cmd == "seeds":
        return seeds_main(a.seeds, a.dir, a.only, not a.no_make, a.device, a.jobs)
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
            print(f"{pcap}: {truth_summary(a.truth / f'{stem}.truth.parquet')}")
        return 0
    why = lab_available()
    if why:
        print(f"lab unavailable: {why}", file=sys.stderr)
        return 2
    if a.cmd == "run":
        res = run_scenario(scenarios(a.seed)[a.scenario], a.out, a.seed, a.truth, server_capture=a.server_capture)
        if res.kernel_drops:
            print(f"warning: tcpdump lost {res.kernel_drops} packets", file=sys.stderr)
        print(f"{res.pcap}: {truth_summary(res.truth)}")
        return 0
    names = a.only or [n for n, s in scenarios().items() if s.bundled]
    make_set(a.out, a.truth, a.seed, names, log=lambda line: print(line, flush=True))
    if not a.only:
        write_captures_tsv(a.captures_tsv, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
