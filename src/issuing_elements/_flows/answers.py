"""Every outcome answered and audited: what each door does the same way at its ends.

`endpoint` turns a flow into an endpoint (the headers read once, every
outcome a response, never an exception); `audit` hands an event to the
trail, failing closed, and `audit_quietly` where nothing is left to refuse;
`as_outcome` turns anything unexpected into a logged 500.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from issuing_elements._audit import Trail
from issuing_elements._needs import WriteTrail, ask
from issuing_elements._request import request_context
from issuing_elements._response import error_response
from issuing_elements.exceptions import IssuingElementsError, ServerMisconfiguredError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from issuing_elements._audit import Action, AuditEvent
    from issuing_elements._needs import Flow
    from issuing_elements._records import HttpResponse
    from issuing_elements._request import RequestContext

logger = logging.getLogger("issuing_elements")


def endpoint(
    action: Action,
    headers: Mapping[str, str] | None,
    client_ip: str | None,
    exchange: Callable[[RequestContext], Flow[HttpResponse]],
) -> Flow[HttpResponse]:
    """An exchange as an endpoint: the headers read once, every outcome answered.

    Never raises: the library's errors become their answers, anything else
    a logged 500. Headers that cannot be read are refused, and audited.
    """
    try:
        try:
            context = request_context(headers, client_ip)
        except ServerMisconfiguredError as unreadable:
            yield from audit_quietly(Trail().event(action, unreadable, str(unreadable)))
            raise
        return (yield from exchange(context))
    except IssuingElementsError as error:
        return error_response(error)
    except Exception as error:  # noqa: BLE001 - every outcome is a response
        return error_response(unexpected(error))


def trail_of(context: RequestContext) -> Trail:
    """A new audit trail, knowing what the request says about itself."""
    return Trail(
        request_id=context.header("x-request-id"),
        user_agent=context.header("user-agent"),
        client_ip=context.client_ip,
    )


def audit(event: AuditEvent) -> Flow[None]:
    """Hand *event* to the sink; a sink that fails makes the decision fail (500)."""
    try:
        yield from ask(WriteTrail(event))
    except Exception as error:
        logger.exception(
            "The audit sink raised %s; failing closed.", type(error).__name__
        )
        raise ServerMisconfiguredError("The audit sink failed.") from None


def audit_quietly(event: AuditEvent) -> Flow[None]:
    """Hand *event* to the sink where nothing is left to refuse; log a failure."""
    try:
        yield from ask(WriteTrail(event))
    except Exception as error:
        logger.exception(
            "The audit sink raised %s on a %s %s event; it is lost.",
            type(error).__name__,
            event.action,
            event.outcome,
        )


def unexpected(error: BaseException) -> ServerMisconfiguredError:
    """A failure nobody planned for: logged with its traceback, answered 500."""
    logger.error(
        "Unexpected %s while issuing a key; answering 500.",
        type(error).__name__,
        exc_info=error,
    )
    return ServerMisconfiguredError("Unexpected error.")


def as_outcome(error: Exception) -> IssuingElementsError:
    """The library's outcome for *error*; anything unexpected is a logged 500."""
    return error if isinstance(error, IssuingElementsError) else unexpected(error)
