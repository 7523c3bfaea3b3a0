"""The API's JSON parser: DRF's, with a size and a nesting bound.

A body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's own limit, 2.5 MB by default; no API body
comes near it) is `413 payload_too_large` — DRF reads the stream itself, so Django's check on
`request.body` never runs for it.

No request of this API needs more than a few levels (a statement body holds amounts as
`{"amount", "currency"}` objects). Deeper JSON is refused as `malformed_request` before any
recursive code (the JSON decoder, JCS canonicalisation, signature checks) sees it, so a body
nested a thousand levels deep is a 400, never a RecursionError.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.errors import DomainError

MAX_JSON_DEPTH = 16


class PayloadTooLarge(DomainError):
    code, status, title = "payload_too_large", 413, "Request body too large"


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `value` nests objects/arrays more than `limit` levels (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge(f"the body is larger than {limit} bytes")
            stream = io.BytesIO(body)
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        if json_depth_exceeds(data):
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return data
