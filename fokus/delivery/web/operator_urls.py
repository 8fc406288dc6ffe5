from django.urls import URLPattern, URLResolver, path

from fokus.delivery.web import operator

app_name = "delivery_operator"
urlpatterns: list[URLPattern | URLResolver] = [
    path("operator/deliveries/", operator.log, name="log"),
    path("operator/drops/", operator.drops, name="drops"),
    path("operator/failures/", operator.failures, name="failures"),
    path("operator/deliveries/<int:delivery_id>/resend/", operator.resend, name="resend"),
    path("operator/drops/resend/", operator.resend_drop, name="resend_drop"),
]
