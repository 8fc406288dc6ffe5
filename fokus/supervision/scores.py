"""The supervisor score and the supervisors' board (precomputed in SupervisorStanding).

A supervisor's score, 0 to 100, is

    score = 100 × (0.3 × own + 0.4 × adoption + 0.3 × grade)

* own: the supervisor's learning points in their own track / the most points its tasks
  opened so far can give (left out, and the other weights scaled up, while their track
  has no task yet);
* adoption: the team's answered tasks / the tasks assigned to the team so far;
* grade: the team's average grade as a share of each task's top grade.

Every part is a share, never a sum, so a team of 12 does not beat a team of 3 by
size. Small teams are not lucky either: adoption and grade are shrunk towards the
program's average as if the team had SHRINK_REPORTS more people of average behaviour,
so one diligent report of one does not make a perfect score (docs/supervision.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum

from fokus.programs.models import Program, Task
from fokus.scoring.models import PointsEntry, PointsSource
from fokus.scoring.queries import grade_points_of, scoring_rules_for
from fokus.supervision import queries
from fokus.supervision.models import SupervisorStanding

WEIGHT_OWN = Decimal("0.3")
WEIGHT_ADOPTION = Decimal("0.4")
WEIGHT_GRADE = Decimal("0.3")
SHRINK_REPORTS = Decimal(2)
ZERO = Decimal(0)
FOUR = Decimal("0.0001")


@dataclass(slots=True)
class _Raw:
    supervisor_id: int
    team_size: int
    own: Decimal | None
    answered: int
    assigned: int
    graded: int
    grade_sum: Decimal


def shrunk(done: Decimal, out_of: Decimal, mean: Decimal, weight: Decimal) -> Decimal:
    """(done + weight × mean) / (out_of + weight): a share pulled towards the mean."""
    if out_of + weight <= 0:
        return ZERO
    return (done + weight * mean) / (out_of + weight)


def score_of(own: Decimal | None, adoption: Decimal, grade: Decimal) -> Decimal:
    if own is None:
        rest = WEIGHT_ADOPTION + WEIGHT_GRADE
        value = (WEIGHT_ADOPTION * adoption + WEIGHT_GRADE * grade) / rest
    else:
        value = WEIGHT_OWN * own + WEIGHT_ADOPTION * adoption + WEIGHT_GRADE * grade
    return (value * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _raw_rows(program: Program, now: datetime) -> list[_Raw]:
    grade_points = grade_points_of(scoring_rules_for(program))
    best = {m: max((grade_points.get(g, ZERO) for g in range(1, m + 1)), default=ZERO)
            for m in range(1, 11)}
    tasks = list(Task.objects.filter(track__program=program).values_list(
        "track_id", "day__date", "grade_max"))
    rows: list[_Raw] = []
    for supervisor, track in queries.supervisors_of(program):
        followed = track.follows
        team = queries.team_in_track(supervisor, followed) if followed is not None else []
        today = queries.local_date(supervisor, now)
        possible = sum(
            (best.get(m, ZERO) for t, d, m in tasks if t == track.pk and d <= today), ZERO
        )
        own: Decimal | None = None
        if possible > 0:
            earned = PointsEntry.objects.filter(
                program=program, person=supervisor, source=PointsSource.LEARNING
            ).aggregate(points=Sum("amount"))["points"] or ZERO
            own = min(Decimal(1), max(ZERO, earned / possible))
        progress = queries.progress_of(program, team, now)
        rows.append(_Raw(
            supervisor_id=supervisor.pk,
            team_size=len(team),
            own=own,
            answered=sum(min(p.answered, p.tasks_so_far) for p in progress.values()),
            assigned=sum(p.tasks_so_far for p in progress.values()),
            graded=sum(p.graded for p in progress.values()),
            grade_sum=sum((p.grade_sum for p in progress.values()), ZERO),
        ))
    return rows


@transaction.atomic
def supervisor_standings_refresh(program: Program, now: datetime) -> list[SupervisorStanding]:
    """Recompute the supervisors' board of `program` (the job and tests call this)."""
    raw = _raw_rows(program, now)
    assigned_all = sum(r.assigned for r in raw)
    graded_all = sum(r.graded for r in raw)
    mean_adoption = (
        Decimal(sum(r.answered for r in raw)) / assigned_all if assigned_all else ZERO
    )
    mean_grade = sum((r.grade_sum for r in raw), ZERO) / graded_all if graded_all else ZERO
    computed = []
    for r in raw:
        per_person = Decimal(r.assigned) / r.team_size if r.team_size else ZERO
        adoption = shrunk(Decimal(r.answered), Decimal(r.assigned), mean_adoption,
                          SHRINK_REPORTS * per_person)
        grade = shrunk(r.grade_sum, Decimal(r.graded), mean_grade, SHRINK_REPORTS)
        computed.append((r, adoption, grade, score_of(r.own, adoption, grade)))
    computed.sort(key=lambda item: -item[3])
    standings: list[SupervisorStanding] = []
    rank, previous = 0, None
    for position, (r, adoption, grade, score) in enumerate(computed, start=1):
        if score != previous:
            rank, previous = position, score
        standing, _created = SupervisorStanding.objects.update_or_create(
            program=program, supervisor_id=r.supervisor_id,
            defaults={
                "team_size": r.team_size,
                "own_share": (r.own or ZERO).quantize(FOUR),
                "adoption_share": adoption.quantize(FOUR),
                "grade_share": grade.quantize(FOUR),
                "score": score,
                "rank": rank,
                "refreshed_at": now,
            },
        )
        standings.append(standing)
    SupervisorStanding.objects.filter(program=program).exclude(
        supervisor_id__in=[r.supervisor_id for r in raw]
    ).delete()
    return standings
