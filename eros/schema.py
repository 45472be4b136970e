"""OpenAPI extensions: the bearer scheme of ``eros.auth.JWTAuthentication``."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "eros.auth.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT whose `sub` is the user's UUID (HS256 or JWKS-signed).",
        }
