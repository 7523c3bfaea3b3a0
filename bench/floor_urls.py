"""POST /floor inserts one row and answers 201: the cheapest DRF write this stack can do."""

from django.db import connection
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class FloorApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):  # type: ignore[no-untyped-def]
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_floor (payload) VALUES (%s) RETURNING id",
                [str(request.data.get("n", ""))],
            )
            row_id = cursor.fetchone()[0]
        return Response({"id": row_id}, status=201)


urlpatterns = [path("floor", FloorApi.as_view())]
