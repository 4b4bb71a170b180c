"""An HTTP function that does nothing: the webhook figure's reference for what the server alone costs."""

from __future__ import annotations

import flask
import functions_framework


@functions_framework.http
def empty(request: flask.Request) -> tuple[str, int]:
    return "", 200
