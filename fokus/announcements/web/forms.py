"""The announcement editor's form: every error names its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from fokus.announcements import queries
from fokus.announcements.images import ImageRefused, StoredImage, image_normalise
from fokus.core.models import Organization
from fokus.people.models import Unit
from fokus.programs.models import Program

TITLE_MAX = 200
TEXT_MAX = 20_000


class AnnouncementForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX)
    text = forms.CharField(
        label=_("Text"), widget=forms.Textarea(attrs={"rows": 12}), max_length=TEXT_MAX,
        help_text=_("Markdown: **bold**, *italic*, lists, links."),
    )
    program = forms.ModelChoiceField(
        label=_("Program"), queryset=Program.objects.none(), required=False,
        empty_label=_("Everyone in the organisation"), to_field_name="slug",
        help_text=_("Only people enrolled in this program."),
    )
    unit = forms.ModelChoiceField(
        label=_("Unit"), queryset=Unit.objects.none(), required=False,
        empty_label=_("All units"), help_text=_("Only people of this unit."),
    )
    image = forms.FileField(
        label=_("Image"), required=False,
        help_text=_("JPEG, PNG, WebP or GIF, at most 5 MB; it is shrunk to 1024 pixels."),
    )
    remove_image = forms.BooleanField(label=_("Remove the image"), required=False)

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        program = self.fields["program"]
        assert isinstance(program, forms.ModelChoiceField)
        program.queryset = queries.programs_for_audience(organization=organization)
        unit = self.fields["unit"]
        assert isinstance(unit, forms.ModelChoiceField)
        unit.queryset = queries.units_for_audience(organization=organization)
        self.stored_image: StoredImage | None = None

    def clean_title(self) -> str:
        title = str(self.cleaned_data["title"]).strip()
        if not title:
            raise forms.ValidationError(_("Enter a title."))
        return title

    def clean_image(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get("image")
        if upload is None:
            return None
        if upload.size is not None and upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError(_("The image is larger than 5 MB."))
        try:
            self.stored_image = image_normalise(upload.read())
        except ImageRefused as refused:
            raise forms.ValidationError(str(refused)) from None
        return upload
