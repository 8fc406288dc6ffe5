"""Leaderboards: standings precomputed from the points ledger.

A standing is one person's sums for one period of one program. Its competition rank
(ties share a rank: 1, 2, 2, 4) is 1 + the number of people with a higher total, read
from a per-total histogram (TotalCount, TrackTotalCount) kept next to the standings:
a change of one total moves one person between two buckets instead of re-ranking
everyone in between. Periods are named by text keys:

    "program"            the whole program
    "week:2026-W10"      an ISO week (of PointsEntry.occurred_on)
    "day:2026-03-02"     one day

Standings and histograms are caught up from the ledger incrementally (see services.py
and docs/leaderboards.md); no request ranks anything with a window function.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.people.models import Person, Unit
from fokus.programs.models import Program, Track

PROGRAM_PERIOD = "program"

_POINTS = {"max_digits": 12, "decimal_places": 2, "default": Decimal("0")}


class BoardMode(models.TextChoices):
    NORMAL = "normal", _("names shown")
    ANONYMOUS = "anonymous", _("anonymous (only your own name)")
    NEIGHBOURS_ONLY = "neighbours_only", _("only your place and your neighbours")


class BoardSettings(models.Model):
    """How participants see a program's boards (admins, viewers and curators see all)."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="board_settings",
        verbose_name=_("program"),
    )
    mode = models.CharField(
        _("mode"), max_length=16, choices=BoardMode.choices, default=BoardMode.NORMAL
    )
    neighbours = models.PositiveSmallIntegerField(
        _("neighbours shown above and below"), default=3
    )

    class Meta:
        verbose_name = _("board settings")
        verbose_name_plural = _("board settings")

    def __str__(self) -> str:
        return f"{self.program}: {self.mode}"


class Board(models.Model):
    """A program's catch-up state: which ledger entries the standings include.

    Every entry with id <= watermark is applied; entries above it that are applied
    already are listed in AppliedEntry (on PostgreSQL a transaction can commit a lower
    id after a higher one: the watermark only passes an id once no transaction that
    could still commit it is running). Refreshes lock this row.
    """

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="board", verbose_name=_("program")
    )
    watermark = models.BigIntegerField(_("last applied ledger entry"), default=0)
    # [[snapshot xmax, highest visible entry id], ...]: see services._advance_watermark.
    checkpoints = models.JSONField(default=list, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("board")
        verbose_name_plural = _("boards")

    def __str__(self) -> str:
        return f"{self.program} @ {self.watermark}"


class AppliedEntry(models.Model):
    """A ledger entry above the watermark that the standings already include."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    entry_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "entry_id"], name="applied_entry_unique")
        ]

    def __str__(self) -> str:
        return f"{self.program_id}: {self.entry_id}"


class Standing(models.Model):
    """A person's points in one period of a program (the rank: see TotalCount)."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="standings", verbose_name=_("program")
    )
    period = models.CharField(_("period"), max_length=20)
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="standings", verbose_name=_("person")
    )
    # The person's unit when the standing last changed: the team board sums by it.
    unit = models.ForeignKey(
        Unit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("unit"),
    )
    # The name when the standing last changed: ties are listed by name, and keeping it
    # here lets the (total, name) index serve "my place" without a sort.
    sort_name = models.CharField(max_length=300, default="")
    learning = models.DecimalField(_("learning"), **_POINTS)  # type: ignore[arg-type]
    kpi = models.DecimalField(_("KPI"), **_POINTS)  # type: ignore[arg-type]
    bonus = models.DecimalField(_("bonus"), **_POINTS)  # type: ignore[arg-type]
    other = models.DecimalField(_("other"), **_POINTS)  # type: ignore[arg-type]
    total = models.DecimalField(_("total"), **_POINTS)  # type: ignore[arg-type]
    # The rank at the last nightly snapshot, for "rank change" (▲2).
    previous_rank = models.PositiveIntegerField(_("previous rank"), null=True, blank=True)

    class Meta:
        verbose_name = _("standing")
        verbose_name_plural = _("standings")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "period", "person"], name="standing_unique_person_period"
            )
        ]
        indexes = [
            # Board order (total descending, ties by name): pages and "my place" are
            # keyset scans of this index.
            models.Index(
                fields=["program", "period", "-total", "sort_name", "person"],
                name="standing_order",
            ),
            models.Index(fields=["program", "period", "unit"], name="standing_unit"),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.period} {self.person_id}: {self.total}"


class TrackStanding(models.Model):
    """A standing's place on the board of one track the person is enrolled in."""

    standing = models.ForeignKey(Standing, on_delete=models.CASCADE, related_name="track_places")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    track = models.ForeignKey(
        Track, on_delete=models.CASCADE, related_name="standings", verbose_name=_("track")
    )
    period = models.CharField(_("period"), max_length=20)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    sort_name = models.CharField(max_length=300, default="")
    # A copy of the standing's total: the track board is ordered by it.
    total = models.DecimalField(_("total"), **_POINTS)  # type: ignore[arg-type]
    previous_rank = models.PositiveIntegerField(_("previous rank"), null=True, blank=True)

    class Meta:
        verbose_name = _("track standing")
        verbose_name_plural = _("track standings")
        constraints = [
            models.UniqueConstraint(
                fields=["track", "period", "person"], name="track_standing_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["track", "period", "-total", "sort_name", "person"],
                name="track_standing_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.track_id} {self.period} {self.person_id}: {self.total}"


class TotalCount(models.Model):
    """How many people of a program's period have this total (the rank histogram).

    A person's rank is 1 + the people in the buckets above their total: one indexed sum.
    Kept equal to GROUP BY total over the period's standings, in the same transaction
    as the standings; empty buckets are deleted.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=20)
    total = models.DecimalField(**_POINTS)  # type: ignore[arg-type]
    people = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "period", "total"], name="total_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.period} {self.total}: {self.people}"


class TrackTotalCount(models.Model):
    """The rank histogram of one track's board (see TotalCount)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=20)
    total = models.DecimalField(**_POINTS)  # type: ignore[arg-type]
    people = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["track", "period", "total"], name="track_total_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.track_id} {self.period} {self.total}: {self.people}"


class TeamStanding(models.Model):
    """A unit's points per enrolled member in one period: fair to team size."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="team_standings")
    period = models.CharField(_("period"), max_length=20)
    unit = models.ForeignKey(
        Unit, on_delete=models.CASCADE, related_name="+", verbose_name=_("unit")
    )
    # Active enrollments in the program (plus anyone of the unit with points), not only
    # the people who scored: a team is not rewarded for its absentees.
    members = models.PositiveIntegerField(_("members"), default=0)
    learners = models.PositiveIntegerField(_("members with learning points"), default=0)
    learning = models.DecimalField(_("learning"), **_POINTS)  # type: ignore[arg-type]
    kpi = models.DecimalField(_("KPI"), **_POINTS)  # type: ignore[arg-type]
    total = models.DecimalField(_("total"), **_POINTS)  # type: ignore[arg-type]
    average = models.DecimalField(
        _("points per member"), max_digits=14, decimal_places=4, default=Decimal("0")
    )
    rank = models.PositiveIntegerField(_("rank"), default=1)

    class Meta:
        verbose_name = _("team standing")
        verbose_name_plural = _("team standings")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "period", "unit"], name="team_standing_unique"
            )
        ]
        indexes = [models.Index(fields=["program", "period", "rank"], name="team_standing_board")]

    def __str__(self) -> str:
        return f"{self.program_id} {self.period} {self.unit_id} #{self.rank}"

    @property
    def learner_share(self) -> Decimal:
        if not self.members:
            return Decimal("0")
        return (Decimal(self.learners) / Decimal(self.members)).quantize(Decimal("0.01"))


class RankHistory(models.Model):
    """A person's whole-program rank and total on a date (nightly), for the digest."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    date = models.DateField(_("date"))
    rank = models.PositiveIntegerField(_("rank"))
    total = models.DecimalField(_("total"), **_POINTS)  # type: ignore[arg-type]

    class Meta:
        verbose_name = _("rank history")
        verbose_name_plural = _("rank history")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "person", "date"], name="rank_history_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.date} #{self.rank}"
