"""`seg_basis`: the rule that gave each data segment its class, on packets whose story is known
(tests/packetgen.py) and on the bundled captures."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from packetgen import frame
from tcpscope.analysis import analyze
from tcpscope.classes import BASIS_CLASSES, BASIS_NAMES
from tcpscope.decode import decode_capture
from test_analysis import (
    PHONE,
    SERVER,
    _bases,
    _download_seen_at_receiver,
    _lost_tail_at_receiver,
    _upload_reordered_downstream,
    _upload_with_loss,
)

ROOT = Path(__file__).resolve().parent.parent


def test_basis_names_one_class_each() -> None:
    assert set(BASIS_CLASSES) == set(BASIS_NAMES) and len(BASIS_NAMES) == len(set(BASIS_NAMES))


def test_sender_side_bases() -> None:
    """The lost segment's fast re-send has nothing to show it needless; the later re-send of
    segment 8 went after the ACK of all ten: it is needless by that ACK, before its D-SACK came."""
    a = analyze(frame(_upload_with_loss()), device=PHONE)
    assert _bases(a.segments, PHONE) == ["above_highest"] * 10 + ["resent", "acked_before"]


@pytest.mark.parametrize("resend, late", [(False, "passed"), (True, "passed_resend_needless")])
def test_sender_side_reordering_bases(resend: bool, late: str) -> None:
    """Segment 3 was reported missing beside SACKed later ones, then acknowledged: without a
    re-send the ACK shows it; with one, the D-SACK of the re-send does."""
    a = analyze(frame(_upload_reordered_downstream(resend)), device=PHONE)
    expected = ["above_highest", "above_highest", late, "above_highest", "above_highest", "above_highest"]
    assert _bases(a.segments, PHONE) == expected + (["dsack"] if resend else [])


def test_receiver_side_bases() -> None:
    """At the receiver's side, holes filled early and late, a network copy, bytes seen before."""
    a = analyze(frame(_download_seen_at_receiver(timestamps=True, ip_ids=True)), device=PHONE)
    new = "above_highest"
    assert _bases(a.segments, SERVER) == [
        new, new, new, "filled_hole_early", new, new, "duplicate", new, "filled_hole_late", "seen_before",
    ]


@pytest.mark.parametrize("next_gap, last", [(None, "hidden_original"), (0.001, "id_gap_explained")])
def test_lost_tail_bases(next_gap: float | None, last: str) -> None:
    """A lost tail's re-send, known only by its sender's ID gap; new data right behind it shows
    the gap had another cause, and the segment goes back to new with that reason."""
    a = analyze(frame(_lost_tail_at_receiver(next_gap=next_gap)), device=PHONE)
    assert _bases(a.segments, SERVER)[:7] == ["above_highest"] * 6 + [last]


@pytest.mark.parametrize("capture", sorted((ROOT / "pcap").glob("*.pcap")), ids=lambda p: p.name)
def test_every_class_has_its_basis(capture: Path) -> None:
    """On the bundled captures, every classified segment names a basis of its own class, and no
    other packet has one."""
    seg = analyze(decode_capture(capture).packets, device="192.168.2.2").segments
    assert seg.filter(pl.col("seg_class").is_null() != pl.col("seg_basis").is_null()).height == 0
    pairs = seg.filter(pl.col("seg_class").is_not_null()).select("seg_class", "seg_basis").unique()
    wrong = [r for r in pairs.iter_rows() if r[0] not in BASIS_CLASSES[r[1]]]
    assert not wrong
    assert pairs.height >= 2  # each capture holds new data and at least one other kind
