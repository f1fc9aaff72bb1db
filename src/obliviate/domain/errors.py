"""Errors the domain and services raise; each surface maps them onto its own envelope.

ObliviateError
├── AuthenticationError          credentials missing or wrong (nothing ran)
├── ValidationError              input breaks a rule; carries the offending field
├── NotFoundError
│   └── ProfileNotFound          no visible profile for that identifier
├── ConflictError
│   └── DuplicateProfile         an active profile already holds the identifier
└── RateLimited                  over the surface's limit; carries retry_after seconds
"""

from __future__ import annotations


class ObliviateError(Exception):
    """Base of every error Obliviate raises on purpose."""


class AuthenticationError(ObliviateError):
    def __init__(self, reason: str = "invalid credentials") -> None:
        super().__init__(reason)
        self.reason = reason


class ValidationError(ObliviateError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFoundError(ObliviateError):
    pass


class ProfileNotFound(NotFoundError):
    def __init__(self, id_type: str, value: str) -> None:
        super().__init__(f"no profile with {id_type}")
        self.id_type = id_type
        self.value = value


class ConflictError(ObliviateError):
    pass


class DuplicateProfile(ConflictError):
    def __init__(self, id_type: str, value: str) -> None:
        super().__init__(f"an active profile already has this {id_type}")
        self.id_type = id_type
        self.value = value


class RateLimited(ObliviateError):
    def __init__(self, retry_after: int, limit: int = 0) -> None:
        super().__init__(f"rate limited; retry after {retry_after}s")
        self.retry_after = retry_after
        self.limit = limit


class IdentifierInUse(ConflictError):
    def __init__(self, id_type: str) -> None:
        super().__init__(f"the {id_type} already belongs to a profile")
        self.id_type = id_type


class SoleIdentifier(ObliviateError):
    def __init__(self) -> None:
        super().__init__("a profile keeps at least one identifier")


class IdentifierUnchanged(ObliviateError):
    def __init__(self) -> None:
        super().__init__("the old and new identifier are the same")


class Forbidden(ObliviateError):
    def __init__(self, scope: str) -> None:
        super().__init__(f"this token lacks the {scope!r} scope")
        self.scope = scope


class Suppressed(ObliviateError):
    def __init__(self, id_type: str) -> None:
        super().__init__(f"this {id_type} is suppressed and cannot be re-created")
        self.id_type = id_type


class MassDeletionRefused(ObliviateError):
    def __init__(self, recent: int, allowed: int) -> None:
        super().__init__(
            f"mass-deletion guard: {recent} deletions this hour would exceed the {allowed} "
            "allowed; if this is intended, resend with the header X-Obliviate-Confirm-Mass-Delete: "
            "yes (or the command line's --confirm-mass-delete)"
        )
        self.recent = recent
        self.allowed = allowed


class BatchTooLarge(ObliviateError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"a deletion batch holds at most {limit} subjects")
        self.limit = limit


class IdempotencyMismatch(ObliviateError):
    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used with a different request body")


class NotCancellable(ObliviateError):
    def __init__(self, state: str) -> None:
        super().__init__(f"only a queued job can be cancelled; this one is {state}")
        self.state = state
