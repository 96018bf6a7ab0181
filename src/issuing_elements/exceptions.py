"""The library's errors: one root, one subclass per outcome.

Every error carries the HTTP ``status`` and the stable ``code`` that the
endpoint answers with, so callers of
[`EphemeralKeyIssuer.issue`][issuing_elements.EphemeralKeyIssuer.issue] and
the sans-I/O [`EphemeralKeyIssuer.handle`][issuing_elements.EphemeralKeyIssuer.handle]
agree on every outcome.
``str(error)`` is meant for the operator's log; ``public_message`` is the
only text that may reach a browser. Neither ever holds a secret.

::

    IssuingElementsError
    ├── InvalidRequestError          400 invalid_request
    │   └── UnsupportedApiVersionError   400 unsupported_api_version
    ├── InvalidNonceError            400 invalid_nonce
    ├── InvalidSignatureError        400 signature_invalid (a Stripe event's)
    │   ├── SignatureMissingError    400 signature_missing
    │   ├── SignatureMalformedError  400 signature_malformed
    │   └── SignatureExpiredError    400 signature_expired
    ├── UnauthenticatedError         401 unauthenticated
    ├── ForbiddenOriginError         403 forbidden_origin
    ├── CardNotFoundError            404 card_not_found
    ├── AccountNotFoundError         404 account_not_found
    ├── BodyTooLargeError            413 body_too_large
    ├── UnsupportedMediaTypeError    415 unsupported_media_type
    ├── RateLimitedError             429 rate_limited
    ├── ServerMisconfiguredError     500 server_misconfigured
    │   └── ConfigurationError       (configuring; or a call it cannot serve)
    ├── StripeUnavailableError       503 stripe_unavailable
    └── ServiceUnavailableError      503 service_unavailable
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccountNotFoundError",
    "BodyTooLargeError",
    "CardNotFoundError",
    "ConfigurationError",
    "ForbiddenOriginError",
    "InvalidNonceError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "IssuingElementsError",
    "RateLimitedError",
    "ServerMisconfiguredError",
    "ServiceUnavailableError",
    "SignatureExpiredError",
    "SignatureMalformedError",
    "SignatureMissingError",
    "StripeUnavailableError",
    "UnauthenticatedError",
    "UnsupportedApiVersionError",
    "UnsupportedMediaTypeError",
]


class IssuingElementsError(Exception):
    """Root of every error this library raises.

    Attributes:
        status: The HTTP status the endpoint answers with.
        code: The stable, documented error code of the wire contract.
        public_message: Text that is safe to show to the browser: the
            class's default, or a message the library itself wrote.
        stripe_request_id: Stripe's ``Request-Id`` when Stripe answered.
        stripe_code: Stripe's own error code, for the operator, if any.
    """

    status: ClassVar[int] = 500
    code: ClassVar[str] = "server_misconfigured"
    default_message: ClassVar[str] = "The server cannot issue keys right now."

    def __init__(
        self,
        message: str | None = None,
        *,
        stripe_request_id: str | None = None,
        stripe_code: str | None = None,
    ) -> None:
        super().__init__(message or self.default_message)
        self.public_message: str = self.default_message
        self.stripe_request_id: str | None = stripe_request_id
        self.stripe_code: str | None = stripe_code


class InvalidRequestError(IssuingElementsError, ValueError):
    """The request body is malformed, or a field is missing, unknown or ill-formed.

    Attributes:
        field: The offending field's name, when there is one.
    """

    status = 400
    code = "invalid_request"
    default_message = "The request is malformed."

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        stripe_request_id: str | None = None,
        stripe_code: str | None = None,
    ) -> None:
        super().__init__(
            message, stripe_request_id=stripe_request_id, stripe_code=stripe_code
        )
        self.field: str | None = field
        # The library writes these messages itself, naming fields, never values.
        self.public_message: str = str(self)


class UnsupportedApiVersionError(InvalidRequestError):
    """Stripe refused the API version a mobile app sent (``api_version``).

    The version is well-formed, but Stripe does not accept it: the app's
    SDK is asking for a version Stripe does not know. The message names the
    version; ``field`` is ``"api_version"``. Stripe refusing the server's
    own version stays a `ServerMisconfiguredError` (500).
    """

    code = "unsupported_api_version"
    default_message = "Stripe does not accept this API version."


class InvalidNonceError(IssuingElementsError):
    """Stripe rejected the nonce: used already, expired, or made for another card."""

    status = 400
    code = "invalid_nonce"
    default_message = "The nonce is invalid or has been used. Create a new one."


class InvalidSignatureError(IssuingElementsError):
    """A Stripe event's ``Stripe-Signature`` matches none of the webhook secrets.

    The body was signed with another secret, or changed on the way. Its
    subclasses name the other reasons a signature is refused; nothing of
    the event is read, and nothing is revoked.
    """

    status = 400
    code = "signature_invalid"
    default_message = "The Stripe-Signature does not match."


class SignatureMissingError(InvalidSignatureError):
    """A Stripe event came without a ``Stripe-Signature`` header."""

    code = "signature_missing"
    default_message = "The Stripe-Signature header is missing."


class SignatureMalformedError(InvalidSignatureError):
    """A Stripe event's ``Stripe-Signature`` is not ``t=<seconds>,v1=<hex>``."""

    code = "signature_malformed"
    default_message = "The Stripe-Signature header is malformed."


class SignatureExpiredError(InvalidSignatureError):
    """A Stripe event's signature matches, but was made more than 300 s ago.

    Stripe's own tolerance, against replays; Stripe signs every new attempt
    anew, so a redelivery is never refused for it.
    """

    code = "signature_expired"
    default_message = "The Stripe-Signature is too old."


class UnauthenticatedError(IssuingElementsError):
    """No user: the application could not authenticate the request."""

    status = 401
    code = "unauthenticated"
    default_message = "Sign in to view card details."


class ForbiddenOriginError(IssuingElementsError):
    """The request came from a page whose origin is not allowed.

    Only when ``EphemeralKeyIssuer(allowed_origins=...)`` is configured.
    """

    status = 403
    code = "forbidden_origin"
    default_message = "Requests from this page are not allowed."


class CardNotFoundError(IssuingElementsError):
    """The user may not see the card, or Stripe has no such card.

    Both give the same answer, so that nobody can probe which cards exist.
    """

    status = 404
    code = "card_not_found"
    default_message = "No such card."


class AccountNotFoundError(IssuingElementsError):
    """The user may not open an Account Session for the account, or Stripe has none.

    Both give the same answer, so that nobody can probe which accounts exist.
    """

    status = 404
    code = "account_not_found"
    default_message = "No such account."


class BodyTooLargeError(IssuingElementsError):
    """The request body is larger than the endpoint accepts."""

    status = 413
    code = "body_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaTypeError(IssuingElementsError):
    """The request body is neither JSON nor form-encoded."""

    status = 415
    code = "unsupported_media_type"
    default_message = (
        "Send the request as application/json or application/x-www-form-urlencoded."
    )


class _RetryableError(IssuingElementsError):
    """An outcome the browser may retry after ``retry_after`` seconds."""

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int = 1,
        stripe_request_id: str | None = None,
        stripe_code: str | None = None,
    ) -> None:
        super().__init__(
            message, stripe_request_id=stripe_request_id, stripe_code=stripe_code
        )
        self.retry_after: int = max(1, int(retry_after))


class RateLimitedError(_RetryableError):
    """The application refuses to serve this user more keys for now.

    Raise it from an authorizer to answer 429 with ``Retry-After``; it is the
    one exception an authorizer may raise on purpose.
    """

    code = "rate_limited"
    status = 429
    default_message = "Too many requests. Try again later."


class ServerMisconfiguredError(IssuingElementsError):
    """Stripe refused the server itself (bad API key, missing Connect feature).

    Logged loudly for the operator; the browser gets a generic answer.
    """


class ConfigurationError(ServerMisconfiguredError, ValueError):
    """A value given to the library while configuring it is invalid.

    At request time: a configuration that cannot serve the call (an HTTP
    client or a Redis client the twin called can never use, say), refused
    with one log line that names the fix.
    """


class StripeUnavailableError(_RetryableError):
    """Stripe is down, timing out, or rate limiting this server."""

    status = 503
    code = "stripe_unavailable"
    default_message = "Card details are unavailable right now. Try again shortly."


class ServiceUnavailableError(_RetryableError):
    """A store the issuer depends on (the rate limiter's or the key ledger's
    Redis) cannot be reached.

    The answer is 503 with ``Retry-After``, never a key: a rate limit that
    cannot be counted, or a key that cannot be recorded for revocation, fails
    closed.
    """

    status = 503
    code = "service_unavailable"
    default_message = "Card details are unavailable right now. Try again shortly."
