"""Programs (marathons, sprints), their tracks, learning days, slots and content."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization, slug_validator
from fokus.people.models import Person

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ProgramKind(models.TextChoices):
    MARATHON = "marathon", _("marathon")
    SPRINT = "sprint", _("sprint")


class SlotKind(models.TextChoices):
    LESSON = "lesson", _("material and task")
    DIGEST = "digest", _("digest")
    REMINDER = "reminder", _("reminder")


class AnswerKind(models.TextChoices):
    TEXT = "text", _("text")
    PHOTO = "photo", _("photo")
    FILE = "file", _("file")
    LINK = "link", _("link")


class Program(models.Model):
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="programs",
        verbose_name=_("organisation"),
    )
    slug = models.CharField(_("slug"), max_length=64, validators=[slug_validator])
    title = models.CharField(_("title"), max_length=300)
    kind = models.CharField(
        _("kind"), max_length=16, choices=ProgramKind.choices, default=ProgramKind.MARATHON
    )
    description = models.TextField(_("description"), blank=True, default="")
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    # Comma-separated WEEKDAYS in week order, e.g. "mon,wed,fri".
    learning_weekdays = models.CharField(_("learning weekdays"), max_length=32)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["-starts_on", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="program_unique_slug_per_org"
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="program_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def weekday_numbers(self) -> tuple[int, ...]:
        """Learning weekdays as `date.weekday()` numbers (Monday is 0)."""
        return tuple(WEEKDAYS.index(d) for d in self.learning_weekdays.split(",") if d)


class Slot(models.Model):
    """A time of day, in each participant's own zone, and what happens then."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="slots", verbose_name=_("program")
    )
    local_time = models.TimeField(_("local time"))
    kind = models.CharField(_("kind"), max_length=16, choices=SlotKind.choices)

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["local_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "local_time"], name="slot_unique_time_per_program"
            )
        ]

    def __str__(self) -> str:
        return f"{self.local_time:%H:%M} {self.get_kind_display()}"


class Track(models.Model):
    """A parallel path through a program; the seniors' track follows the consultants'."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="tracks", verbose_name=_("program")
    )
    slug = models.CharField(_("slug"), max_length=64, validators=[slug_validator])
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True, default="")
    follows = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="followers",
        verbose_name=_("linked to track"),
        help_text=_(
            "The track this one accompanies: supervisors of its participants join this one."
        ),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("track")
        verbose_name_plural = _("tracks")
        ordering = ["program", "position", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "slug"], name="track_unique_slug_per_program"
            ),
            models.CheckConstraint(
                condition=~models.Q(follows=models.F("id")), name="track_not_linked_to_itself"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class LearningDay(models.Model):
    """A calendar date on which the program teaches; `index` counts from 1."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="learning_days", verbose_name=_("program")
    )
    index = models.PositiveSmallIntegerField(_("day number"))
    date = models.DateField(_("date"))

    class Meta:
        verbose_name = _("learning day")
        verbose_name_plural = _("learning days")
        ordering = ["program", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "index"], name="day_unique_index_per_program"
            ),
            models.UniqueConstraint(fields=["program", "date"], name="day_unique_date_per_program"),
        ]

    def __str__(self) -> str:
        return f"{self.index} ({self.date:%Y-%m-%d})"


class Material(models.Model):
    """A micro-module: a Markdown longread of 10–20 minutes."""

    track = models.ForeignKey(
        Track, on_delete=models.CASCADE, related_name="materials", verbose_name=_("track")
    )
    day = models.ForeignKey(
        LearningDay, on_delete=models.CASCADE, related_name="materials", verbose_name=_("day")
    )
    slot = models.ForeignKey(
        Slot, on_delete=models.CASCADE, related_name="materials", verbose_name=_("slot")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("text (Markdown)"), blank=True, default="")
    minutes = models.PositiveSmallIntegerField(_("estimated minutes"), default=15)

    class Meta:
        verbose_name = _("material")
        verbose_name_plural = _("materials")
        ordering = ["day__index", "slot__local_time", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["track", "day", "slot", "position"], name="material_unique_place"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Task(models.Model):
    """An assignment a curator reviews: back for revision, or a grade on its scale."""

    track = models.ForeignKey(
        Track, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("track")
    )
    day = models.ForeignKey(
        LearningDay, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("day")
    )
    slot = models.ForeignKey(
        Slot, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("slot")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=300)
    prompt = models.TextField(_("prompt (Markdown)"))
    # Comma-separated AnswerKind values in declaration order.
    answer_kinds = models.CharField(
        _("accepted answer kinds"), max_length=64, default=AnswerKind.TEXT
    )
    grade_max = models.PositiveSmallIntegerField(_("highest grade"), default=3)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["day__index", "slot__local_time", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["track", "day", "slot", "position"], name="task_unique_place"
            ),
            models.CheckConstraint(
                condition=models.Q(grade_max__gte=1), name="task_grade_max_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def answer_kind_list(self) -> list[str]:
        return [k for k in self.answer_kinds.split(",") if k]


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Enrollment(models.Model):
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("person")
    )
    track = models.ForeignKey(
        Track, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("track")
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
    )
    enrolled_at = models.DateTimeField(_("enrolled at"))

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(fields=["person", "track"], name="enrollment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.person} → {self.track}"


class MaterialView(models.Model):
    """The first time a person opened a material: the "opened" step of the funnel."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="material_views")
    material = models.ForeignKey(Material, on_delete=models.CASCADE, related_name="views")
    opened_at = models.DateTimeField(_("opened at"))

    class Meta:
        verbose_name = _("material view")
        verbose_name_plural = _("material views")
        constraints = [
            models.UniqueConstraint(fields=["person", "material"], name="material_view_unique")
        ]

    def __str__(self) -> str:
        return f"{self.person} → {self.material}"
