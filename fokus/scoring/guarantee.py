"""The learning-first guarantee: pure arithmetic over a program's maxima (no I/O).

For every track that counts, the most a participant can earn from learning (L) is
compared with the most they can earn from KPI (K) and bonuses (B):

    L / (L + K + B) >= min_share      which, exactly in decimals, is
    L * (1 - min_share) >= min_share * (K + B)

docs/scoring.md explains which tracks count, how K and B are bounded, and the messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.utils.translation import gettext as _

CENT = Decimal("0.01")
ZERO = Decimal("0")


def points_text(value: Decimal) -> str:
    """12 -> "12", 1.50 -> "1.5": numbers as people write them in a sentence."""
    text = f"{value.quantize(CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent_text(share: Decimal) -> str:
    """0.4772 -> "47.7", 0.6 -> "60": rounded down, so a share never looks better than it is."""
    return points_text((share * 100).quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def floor_cap(room: Decimal, points_per_unit: Decimal) -> Decimal:
    """The largest cap within `room`: whole units when at least one fits, else cents."""
    if room <= 0:
        return ZERO
    if points_per_unit > 0 and room >= points_per_unit:
        units = (room / points_per_unit).to_integral_value(rounding=ROUND_DOWN)
        return (units * points_per_unit).quantize(CENT)
    return room.quantize(CENT, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class TrackMax:
    slug: str
    title: str
    tasks: int
    participants: int
    max_learning: Decimal
    # Linked (supervisors') tracks earn learning points and bonuses, not KPI points.
    earns_kpi: bool


@dataclass(frozen=True)
class KpiMax:
    metric: str
    points_per_unit: Decimal
    cap_per_day: Decimal | None
    cap_per_program: Decimal | None
    days: int

    @property
    def max_points(self) -> Decimal | None:
        """The most one person can earn for this metric in the program; None: unbounded."""
        bounds = []
        if self.cap_per_day is not None:
            bounds.append(self.cap_per_day * self.days)
        if self.cap_per_program is not None:
            bounds.append(self.cap_per_program)
        return min(bounds) if bounds else None


@dataclass(frozen=True)
class TrackShare:
    track: TrackMax
    max_kpi: Decimal | None  # None: some KPI rule is unbounded
    max_bonus: Decimal
    share: Decimal | None  # None: unbounded KPI, or nothing at all can be earned
    holds: bool

    @property
    def share_percent(self) -> str:
        return "" if self.share is None else percent_text(self.share)


@dataclass
class ShareReport:
    min_share: Decimal
    days: int
    tracks: list[TrackShare]
    kpi: list[KpiMax]
    max_bonus: Decimal
    # Every considered track holds the share.
    holds: bool = True
    # The weakest track: the one that fails, or with the smallest share.
    binding: TrackShare | None = None
    explanation: str = ""
    suggestions: list[str] = field(default_factory=list)
    # metric -> the largest cap per person per program that keeps the share (binding track).
    suggested_program_caps: dict[str, Decimal] = field(default_factory=dict)

    @property
    def min_percent(self) -> str:
        return percent_text(self.min_share)

    @property
    def max_learning(self) -> Decimal:
        return self.binding.track.max_learning if self.binding else ZERO

    @property
    def max_kpi(self) -> Decimal | None:
        return self.binding.max_kpi if self.binding else ZERO

    @property
    def allowed_other(self) -> Decimal | None:
        """The most KPI and bonus together may reach on the binding track; None: no limit."""
        return allowed_other(self.max_learning, self.min_share)


def allowed_other(max_learning: Decimal, min_share: Decimal) -> Decimal | None:
    if min_share <= 0:
        return None
    return (max_learning * (1 - min_share) / min_share).quantize(CENT, rounding=ROUND_DOWN)


def _track_share(
    track: TrackMax, kpi: list[KpiMax], max_bonus: Decimal, min_share: Decimal
) -> TrackShare:
    max_kpi: Decimal | None = ZERO
    if track.earns_kpi:
        for rule in kpi:
            bound = rule.max_points
            max_kpi = None if bound is None or max_kpi is None else max_kpi + bound
    total = None if max_kpi is None else track.max_learning + max_kpi + max_bonus
    share = track.max_learning / total if total else None
    if min_share <= 0:
        holds = True
    elif max_kpi is None:
        holds = False
    else:
        holds = track.max_learning * (1 - min_share) >= min_share * (max_kpi + max_bonus)
    return TrackShare(track, max_kpi, max_bonus, share, holds)


def _weakness(item: TrackShare) -> tuple[int, Decimal]:
    if not item.holds and item.max_kpi is None:
        return (0, ZERO)
    share = item.share if item.share is not None else Decimal(1)
    return (1 if not item.holds else 2, share)


def share_report(
    *,
    tracks: list[TrackMax],
    kpi: list[KpiMax],
    max_bonus: Decimal,
    min_share: Decimal,
    days: int,
) -> ShareReport:
    """Check the guarantee for the tracks that count (see docs/scoring.md)."""
    with_people = [t for t in tracks if t.participants]
    counted = with_people or tracks
    shares = [_track_share(t, kpi, max_bonus, min_share) for t in counted]
    report = ShareReport(min_share=min_share, days=days, tracks=shares, kpi=kpi,
                         max_bonus=max_bonus)
    if not shares:
        report.holds = min_share <= 0 or (max_bonus <= 0 and not kpi)
        if not report.holds:
            report.explanation = _(
                "The program has no tracks yet, so learning can reach 0 points and any KPI or "
                "bonus points would break the minimum learning share of %(min)s%%."
            ) % {"min": percent_text(min_share)}
        return report
    report.binding = min(shares, key=_weakness)
    report.holds = all(s.holds for s in shares)
    kpi_binding = min((s for s in shares if s.track.earns_kpi), key=_weakness, default=None)
    if kpi_binding is not None:
        report.suggested_program_caps = _program_caps(kpi_binding, kpi, min_share)
    if not report.holds:
        failing = min((s for s in shares if not s.holds), key=_weakness)
        report.binding = failing
        report.explanation = _explain(failing, kpi, min_share)
        report.suggestions = _suggest(failing, kpi, min_share, days)
    return report


def _explain(item: TrackShare, kpi: list[KpiMax], min_share: Decimal) -> str:
    track = item.track
    if item.max_kpi is None:
        unbounded = [r.metric for r in kpi if r.max_points is None]
        return _(
            "KPI rule “%(metric)s” has no cap, so participants of track “%(track)s” could earn "
            "unlimited KPI points and learning could not stay at %(min)s%% or more. Set a cap "
            "per person per day or per program."
        ) % {"metric": ", ".join(unbounded), "track": track.title,
             "min": percent_text(min_share)}
    share = item.share if item.share is not None else ZERO
    return _(
        "Learning can reach %(learning)s points (track “%(track)s”), KPI up to %(kpi)s and "
        "bonus up to %(bonus)s: learning would be %(share)s%% < %(min)s%%."
    ) % {
        "learning": points_text(track.max_learning),
        "track": track.title,
        "kpi": points_text(item.max_kpi),
        "bonus": points_text(item.max_bonus),
        "share": percent_text(share),
        "min": percent_text(min_share),
    }


def _program_caps(item: TrackShare, kpi: list[KpiMax], min_share: Decimal) -> dict[str, Decimal]:
    """Per metric: the largest per-program cap, the other rules and the bonus kept as they are."""
    allowed = allowed_other(item.track.max_learning, min_share)
    if allowed is None:
        return {}
    caps: dict[str, Decimal] = {}
    for rule in kpi:
        others = [r.max_points for r in kpi if r is not rule]
        if any(b is None for b in others):
            continue
        room = allowed - item.max_bonus - sum((b for b in others if b is not None), ZERO)
        caps[rule.metric] = floor_cap(room, rule.points_per_unit)
    return caps


def _suggest(
    item: TrackShare, kpi: list[KpiMax], min_share: Decimal, days: int
) -> list[str]:
    allowed = allowed_other(item.track.max_learning, min_share)
    if allowed is None:
        return []
    tips = [
        _("KPI and bonus together may reach at most %(allowed)s points per person.")
        % {"allowed": points_text(allowed)}
    ]
    if item.track.earns_kpi:
        for metric, cap in _program_caps(item, kpi, min_share).items():
            rule = next(r for r in kpi if r.metric == metric)
            if cap <= 0:
                tips.append(
                    _("“%(metric)s” has no room left: lower the bonus limit or the other caps.")
                    % {"metric": metric}
                )
                continue
            per_day = floor_cap(cap / days, rule.points_per_unit) if days else ZERO
            if per_day > 0:
                tips.append(
                    _("Cap “%(metric)s” at %(per_day)s a day or %(per_program)s for the "
                      "program (points per person).")
                    % {"metric": metric, "per_day": points_text(per_day),
                       "per_program": points_text(cap)}
                )
            else:
                tips.append(
                    _("Cap “%(metric)s” at %(per_program)s for the program (points per "
                      "person).")
                    % {"metric": metric, "per_program": points_text(cap)}
                )
    if item.max_bonus > 0 and item.max_kpi is not None and allowed >= item.max_kpi:
        bonus = max(ZERO, allowed - item.max_kpi).quantize(CENT, rounding=ROUND_DOWN)
        tips.append(
            _("Or lower the bonus limit per person to %(bonus)s points.")
            % {"bonus": points_text(bonus)}
        )
    tips.append(_("Or add tasks, or lower the minimum learning share."))
    return tips


@dataclass(frozen=True)
class KpiRuleSpec:
    """A KPI rule as written in a rules file, form or API body (caps in points)."""

    metric: str
    points_per_unit: Decimal
    cap_per_person_per_day: Decimal | None = None
    cap_per_person_per_program: Decimal | None = None
