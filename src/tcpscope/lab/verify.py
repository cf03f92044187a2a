"""The classification bounds checked on a set of lab captures, and on many seeds' sets at once.

`verify_set` scores every capture of a set against its truth (tcpscope.lab.score) and, under each
bound that fails, names the segments it missed with the reason where the capture held no evidence
for them (tcpscope.lab.evidence). `seeds_report` sums the sets of many seeds up, so the claim "the
same bounds hold with other seeds" is one command away from being checked; `pooled_report` checks
the bounds again on each capture's segments pooled over all the sets, and lists every miss."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tcpscope.errors import TcpscopeError
from tcpscope.lab.evidence import bound_misses, unseen
from tcpscope.lab.score import (
    F1_CLASSES,
    F1_MIN,
    F1_MIN_SUPPORT,
    LOSS_COUNTED,
    LOSS_MIN_PACKETS,
    LOSS_REL_TOL,
    Check,
    bound_checks,
    class_scores,
    pooled,
    pooled_checks,
    score,
)


PASS, NO_EVIDENCE, ERRORS = "pass", "fail, only on segments without evidence", "fail, on the classifier's errors"


class VerifyError(TcpscopeError):
    """A set cannot be verified (no capture with a truth file, a bad seed list)."""


@dataclass
class Failure:
    """A bound that failed, and the segments that count against it (`capture`, `frame`, `truth`,
    `pred`, `reason`: null where the capture did show what happened)."""

    check: Check
    misses: pl.DataFrame

    @property
    def without_evidence(self) -> bool:
        """Whether the bound fails only on segments the capture held no evidence for."""
        return self.misses.height > 0 and self.misses["reason"].null_count() == 0


@dataclass
class SetResult:
    """Every bound checked on one set of captures."""

    captures: list[str]
    checks: list[Check]
    failures: list[Failure]
    # per capture: every data segment's `truth`, `pred`, `dir` (c2s, s2c) and `big` (its flow direction
    # has LOSS_MIN_PACKETS data segments or more), for pooling over seeds
    matched: dict[str, pl.DataFrame] = field(default_factory=dict)
    # every miss of the set (bound or not), with `capture` and the `reason` (null: no evidence reason)
    misses: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def verdict(self) -> str:
        """PASS; NO_EVIDENCE: it fails, only on segments its captures held no evidence for; or
        ERRORS: it fails on the classifier's own errors."""
        if not self.failures:
            return PASS
        return NO_EVIDENCE if all(f.without_evidence for f in self.failures) else ERRORS


def verify_set(captures: Path, truth: Path, device: str) -> SetResult:
    """Analyse every `<name>.pcap` of `captures` that has `<name>.truth.parquet` in `truth` and
    check each bound (F1 per class and pooled, loss rate per flow direction)."""
    from tcpscope.analysis import analyze
    from tcpscope.decode import decode_capture

    names = sorted(p.name.removesuffix(".truth.parquet") for p in truth.glob("*.truth.parquet"))
    names = [n for n in names if (captures / f"{n}.pcap").is_file()]
    if not names:
        raise VerifyError(f"no capture in {captures} has a truth file in {truth}")
    checks: list[Check] = []
    matched, misses = {}, {}
    for n in names:
        an = analyze(decode_capture(captures / f"{n}.pcap").packets, device=device)
        s = score(an.segments, pl.read_parquet(truth / f"{n}.truth.parquet"), an.flows)
        matched[n] = s.matched.select(
            "truth", "pred", "dir", big=pl.len().over("flow_id", "from_client") >= LOSS_MIN_PACKETS,
            basis=pl.col("seg_basis") if "seg_basis" in s.matched.columns else pl.lit(None, pl.String),
        )
        if (s.matched["truth"] != s.matched["pred"]).any():  # a pooled bound may fail on them too
            misses[n] = unseen(an.segments, s.matched).with_columns(capture=pl.lit(n))
        checks += bound_checks(n, s)
    checks += pooled_checks(pooled(list(matched.values())))
    failures = [Failure(c, _against(c, misses)) for c in checks if not c.ok]
    every_miss = pl.concat(list(misses.values()), how="diagonal_relaxed") if misses else pl.DataFrame()
    return SetResult(names, checks, failures, matched, every_miss)


def _against(check: Check, misses: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The misses (per capture) that count against a failed bound: its capture's, or all for a
    pooled one."""
    pool = [m for n, m in misses.items() if check.capture in ("pooled", n)]
    return bound_misses(check, pl.concat(pool, how="diagonal_relaxed")) if pool else pl.DataFrame()


def _miss_lines(f: Failure) -> list[str]:
    return [
        f"{r['capture']} frame {r['frame']}: {r['truth']} taken for {r['pred']} ({r['reason'] or '-'})"
        for r in f.misses.iter_rows(named=True)
    ]


def set_report(res: SetResult) -> str:
    """One line per bound; under a failed one, the segments it missed; then the counts."""
    failed = {id(f.check): f for f in res.failures}
    lines = []
    for c in res.checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'} {c.capture:<22} {c.bound:<58} {c.detail}")
        if not c.ok:
            lines += ["       " + m for m in _miss_lines(failed[id(c)])]
    lines.append(f"{len(res.checks) - len(res.failures)} of {len(res.checks)} bounds hold on {len(res.captures)} captures")
    if res.failures:
        n = sum(f.without_evidence for f in res.failures)
        lines.append(
            f"{n} of the {len(res.failures)} that fail do so only on segments the capture held no evidence for "
            "(docs/lab.md)"
        )
        lines.append("python -m tcpscope.lab explain DIR/CAPTURE.pcap FRAME shows a missed segment in its flow")
    return "\n".join(lines)


def parse_seeds(text: str) -> list[int]:
    """Seeds from `2,5-9,122`: numbers and inclusive ranges, comma-separated, in the order given,
    each once."""
    out: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise VerifyError(f"seeds {text!r}: {part.strip()!r} is not a seed or a range like 5-9")
        for s in range(int(m[1]), int(m[2] or m[1]) + 1):
            if s not in out:
                out.append(s)
    return out


def seed_line(seed: int, res: SetResult) -> str:
    """One seed's verdict, and under it each failed bound with the segments behind it."""
    held = f"{len(res.checks) - len(res.failures)}/{len(res.checks)} bounds"
    lines = [f"seed {seed:<5} {held:<14} {res.verdict}"]
    for f in res.failures:
        tag = "no evidence" if f.without_evidence else "error"
        lines.append(f"    {tag:<11} {f.check.capture} {f.check.bound}: {f.check.detail}")
        lines += ["                " + m for m in _miss_lines(f)]
    return "\n".join(lines)


def _seed_list(seeds: list[int]) -> str:
    return ", ".join(str(s) for s in seeds) if seeds else "none"


def seeds_report(results: dict[int, SetResult], missing: list[int] | None = None) -> str:
    """The verdicts summed up: how many sets pass every bound, how many fail only on segments
    their captures held no evidence for, and which fail on the classifier's own errors."""
    passed, unseen_only, errors = ([s for s, r in results.items() if r.verdict == v] for v in (PASS, NO_EVIDENCE, ERRORS))
    lines = [
        f"{len(passed)} of {len(results)} sets pass every bound",
        f"{len(unseen_only)} fail only on segments the capture held no evidence for: {_seed_list(unseen_only)}",
        f"{len(errors)} fail on the classifier's own errors: {_seed_list(errors)}",
    ]
    if missing:
        lines.append(f"{len(missing)} not verified (no complete set): {_seed_list(missing)}")
    if unseen_only or errors:
        lines.append("python -m tcpscope.lab explain DIR/seedN/CAPTURE.pcap FRAME shows a missed segment in its flow")
    return "\n".join(lines)


def pooled_over_seeds(results: dict[int, SetResult]) -> pl.DataFrame:
    """Per capture name, over every seed's set: each bounded class's `support` and `f1`
    (`<class>_support`, `<class>_f1`), and per data direction (`c2s`, `s2c`) the truth's and
    tcpscope's loss rates (`<dir>_truth_loss`, `<dir>_loss`): retransmissions over new,
    retransmission and reordered segments, as the per-flow bound counts them, over the flow
    directions the bound applies to (LOSS_MIN_PACKETS data segments or more: in a chat's few
    packets one miss moves the rate far)."""
    names = sorted({n for r in results.values() for n in r.matched})
    rows = []
    for n in names:
        m = pl.concat([r.matched[n] for r in results.values() if n in r.matched])
        row: dict[str, object] = {"capture": n, "sets": sum(n in r.matched for r in results.values())}
        scores = {c["class"]: c for c in class_scores(m, list(F1_CLASSES)).iter_rows(named=True)}
        for c in F1_CLASSES:
            row[f"{c}_support"] = scores[c]["support"]
            row[f"{c}_f1"] = scores[c]["f1"]
        for d in ("c2s", "s2c"):
            side = m.filter((pl.col("dir") == d) & pl.col("big"))
            for col, key in (("truth", f"{d}_truth_loss"), ("pred", f"{d}_loss")):
                counted = side[col].is_in(LOSS_COUNTED).sum()
                row[key] = (side[col] == "retransmission").sum() / counted if counted else None
        rows.append(row)
    return pl.DataFrame(rows)


def basis_precision(results: dict[int, SetResult]) -> pl.DataFrame:
    """Per class and basis (the rule that set it), over every set: `calls`, `right` (the truth
    agrees), `precision`, and `wrong`: the true classes of the wrong calls, most first. How far
    each rule's word can be taken, measured."""
    every = [m for r in results.values() for m in r.matched.values()]
    if not every:
        return pl.DataFrame()
    m = pl.concat(every, how="diagonal_relaxed").filter(pl.col("basis").is_not_null())
    wrong = (
        m.filter(pl.col("truth") != pl.col("pred"))
        .group_by("pred", "basis", "truth").len()
        .sort(["len", "truth"], descending=[True, False])
        .group_by("pred", "basis", maintain_order=True)
        .agg(wrong=pl.format("{} {}", "truth", "len").str.join(", "))
    )
    return (
        m.group_by("pred", "basis")
        .agg(calls=pl.len(), right=(pl.col("truth") == pl.col("pred")).sum())
        .with_columns(precision=pl.col("right") / pl.col("calls"))
        .join(wrong, on=["pred", "basis"], how="left")
        .with_columns(pl.col("wrong").fill_null(""))
        .rename({"pred": "class"})
        .sort(["class", "calls"], descending=[False, True])
    )


def _basis_lines(results: dict[int, SetResult]) -> list[str]:
    table = basis_precision(results)
    if table.height == 0:
        return []
    head = ["class", "basis", "calls", "right", "precision", "wrong calls were (truth)"]
    body = [
        [r["class"], r["basis"], str(r["calls"]), str(r["right"]), f"{r['precision']:.4f}", r["wrong"]]
        for r in table.iter_rows(named=True)
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = [f"calls by basis (seg_basis: the rule that set the class) over the {len(results)} sets:"]
    return lines + ["  " + "  ".join(x.ljust(w) for x, w in zip(cells, widths)).rstrip() for cells in [head, *body]]


def _f1_cell(support: int, f1: float | None) -> str:
    if support < F1_MIN_SUPPORT:
        return f"- ({support})"
    return f"{f1:.3f}{'*' if f1 < F1_MIN else ' '} ({support})"


def _loss_cell(truth: float | None, got: float | None) -> str:
    if truth is None:
        return "-"  # no flow direction the bound applies to
    if truth == 0:
        return "0" if not got else f"{got:.4f}* vs 0"
    err = abs((got or 0.0) - truth) / truth
    return f"{got or 0.0:.4f} vs {truth:.4f}{'*' if err > LOSS_REL_TOL else ''}"


def pooled_report(results: dict[int, SetResult]) -> str:
    """The bounds again, with each capture name's segments pooled over every seed's set: F1 per
    class (where it has at least F1_MIN_SUPPORT true members) and each direction's loss rate
    against the truth's; '*' marks a figure outside its bound. Then every miss of every set,
    bound or not, counted by the reason its capture held no evidence, and the others listed;
    then each rule's calls and how many the truth backs (`basis_precision`)."""
    table = pooled_over_seeds(results)
    if table.height == 0:
        return ""
    head = ["capture", "sets", *(f"F1 {c}" for c in F1_CLASSES), "loss c2s vs truth", "loss s2c vs truth"]
    body = [
        [
            r["capture"], str(r["sets"]),
            *(_f1_cell(r[f"{c}_support"], r[f"{c}_f1"]) for c in F1_CLASSES),
            _loss_cell(r["c2s_truth_loss"], r["c2s_loss"]), _loss_cell(r["s2c_truth_loss"], r["s2c_loss"]),
        ]
        for r in table.iter_rows(named=True)
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = [f"pooled over {len(results)} sets (F1 >= {F1_MIN} where a class has >= {F1_MIN_SUPPORT} true members; "
             f"loss rate within {LOSS_REL_TOL:.0%} of the truth's, over flow directions of >= {LOSS_MIN_PACKETS} "
             "data segments; * outside):"]
    lines += ["  " + "  ".join(x.ljust(w) for x, w in zip(cells, widths)) for cells in [head, *body]]
    misses = [(s, r.misses) for s, r in results.items() if r.misses.height]
    total = sum(m.height for _, m in misses)
    segments = sum(m.height for r in results.values() for m in r.matched.values())
    lines.append(f"{total} of {segments} data segments missed over the {len(results)} sets")
    if total:
        every = pl.concat([m.with_columns(seed=pl.lit(s)) for s, m in misses], how="diagonal_relaxed")
        reasons = every.filter(pl.col("reason").is_not_null()).group_by("reason").len().sort(
            ["len", "reason"], descending=[True, False]
        )
        for reason, n in reasons.iter_rows():
            lines.append(f"  {n:>5} without evidence: {reason}")
        own = every.filter(pl.col("reason").is_null()).sort("seed", "capture", "frame")
        lines.append(f"  {own.height:>5} the classifier's (or not yet explained){':' if own.height else ''}")
        lines += [
            f"        seed {r['seed']} {r['capture']} frame {r['frame']}: {r['truth']} taken for {r['pred']}"
            for r in own.iter_rows(named=True)
        ]
    lines += _basis_lines(results)
    return "\n".join(lines)
