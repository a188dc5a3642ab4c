"""The exception tree. Every error we raise on purpose derives from AggregatorError.

Other libraries' exceptions are converted at the module that imports the library
(``raise FetchError(...) from e``), so callers only ever catch our own types.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Root of every error the aggregator raises on purpose."""

    default_message = "aggregator error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(AggregatorError):
    """One problem in feeds.yaml, located by file and line."""

    default_message = "invalid configuration"

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = self.path or "feeds.yaml"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class ConfigErrors(AggregatorError):
    """Several ConfigErrors found in one pass, so the admin can fix them all at once."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class ConfigEditError(AggregatorError):
    """An edit of feeds.yaml that cannot be made (no such feed, listed already, the file
    unreadable or unwritable); nothing was written."""

    default_message = "the change of feeds.yaml cannot be made"


class ConfigConflictError(ConfigEditError):
    """feeds.yaml changed on disk after the edit was prepared; nothing was written."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} changed on disk since this change was prepared (another admin or an "
            "editor saved it); nothing was written. Review the change again on the "
            "current file."
        )
        self.path = path


class FeedError(AggregatorError):
    """A problem with one feed; carries the feed URL."""

    default_message = "feed error"

    def __init__(self, url: str, message: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class FetchError(FeedError):
    """The feed could not be retrieved (network, limits, HTTP status)."""

    default_message = "fetch failed"


class FetchTimeoutError(FetchError):
    default_message = "timed out"


class ResponseTooLargeError(FetchError):
    default_message = "response body too large"


class BlockedAddressError(FetchError):
    default_message = "address is not allowed (private or reserved network)"


class FetchCancelledError(FetchError):
    """The fetch was abandoned because the service is stopping; the feed stays due."""

    default_message = "fetch abandoned: the service is stopping"


class TooManyRedirectsError(FetchError):
    default_message = "too many redirects"


class HTTPStatusError(FetchError):
    """The server answered with a 4xx/5xx status."""

    def __init__(
        self,
        url: str,
        status: int,
        reason: str = "",
        retry_after_seconds: int | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(url, message or f"HTTP {status} {reason}".strip())
        self.status = status
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class FeedGoneError(HTTPStatusError):
    """410 Gone: the publisher says the feed will not come back."""


class ParseError(FeedError):
    """The bytes could not be turned into a feed."""

    default_message = "unable to parse feed"


class OpmlError(AggregatorError):
    """A file that is no OPML subscription list (or too large); ``line`` when known."""

    default_message = "not an OPML subscription list"

    def __init__(self, message: str | None = None, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line and message else message)
        self.line = line


class StorageError(AggregatorError):
    default_message = "storage error"


class InvalidCursorError(AggregatorError):
    """A page token (``before``) of a merged feed that we did not make."""

    default_message = "invalid page token"


class AccountError(AggregatorError):
    """A request about accounts that cannot be done (an unknown user, a name taken,
    the last admin removed); the message says why."""

    default_message = "account error"


class AuthenticationError(AggregatorError):
    """Wrong name or password, or an unknown or expired token. The message never says
    which part was wrong."""

    default_message = "wrong name or password"


class TooManyAttemptsError(AuthenticationError):
    """Sign-in refused for a while after too many failures (per account or address)."""

    default_message = "too many failed sign-ins"

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(message or f"too many failed sign-ins; try again in {minutes} min")
        self.retry_after_seconds = retry_after_seconds


class InvalidRequestError(AggregatorError):
    """A request of the sync APIs that names something malformed or unknown (a stream,
    an item id, a parameter); nothing was changed."""

    default_message = "invalid request"
