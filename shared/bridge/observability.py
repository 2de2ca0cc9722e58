"""Logger, tracer and metrics: one instance each for the whole package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics
from aws_lambda_powertools.tracing import Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])


class HandlerTracing:
    """Powertools' Tracer around the handlers when tracing is on; when it is off, no Tracer at all."""

    def __init__(self) -> None:
        # Powertools' own rule: POWERTOOLS_TRACE_DISABLED (from the template's Tracing parameter), or not in Lambda.
        # Even disabled, Tracer() imports the X-Ray SDK's recorder (and, outside Lambda, builds its sampling client).
        self.tracer = None if Tracer._is_tracer_disabled() else Tracer()

    def capture_lambda_handler(self, lambda_handler: Handler) -> Handler:
        """The handler in a subsegment when tracing is on; the handler itself when it is off."""
        if self.tracer is None:
            return lambda_handler
        return cast(Handler, self.tracer.capture_lambda_handler(lambda_handler))


logger = Logger()
tracer = HandlerTracing()
metrics = Metrics()
