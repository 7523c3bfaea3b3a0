"""OpenAPI description of the API-key authentication (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "institutions.authentication.ApiKeyAuthentication"
    name = "institutionApiKey"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "rk_<prefix>_<secret>",
            "description": "Institution API key, issued at onboarding and shown once.",
        }
