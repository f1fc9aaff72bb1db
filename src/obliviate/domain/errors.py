"""Errors the domain and services raise; each surface maps them onto its own envelope.

ObliviateError
├── AuthenticationError          credentials missing or wrong (nothing ran)
│   └── MissingCredentials       the request carries no credentials at all
├── Forbidden                    the credentials lack the scope the operation needs
├── ValidationError              input breaks a rule; carries the offending field
│   └── MergeLimitExceeded       an upsert would fold too many people into one profile
├── NotFoundError
│   ├── ProfileNotFound          no visible profile for that identifier
│   ├── AccountNotFound          no account (an organisation users belong to) with that id
│   ├── DeviceNotFound           no visible device with that registration id
│   ├── JobNotFound              no deletion job with that id the caller may see
│   ├── ExportJobNotFound        no export job with that id the caller may see
│   ├── ReceiptNotFound          no deletion receipt with that id
│   ├── SuppressionNotFound      that identifier is not suppressed
│   └── ModelNotFound            no data model (user, account) of that name
├── ConflictError
│   ├── DuplicateProfile         an active profile already holds the identifier
│   ├── DuplicateAccount         an account with that id exists
│   └── IdentifierInUse          the new identifier already belongs to a profile
├── SoleIdentifier               removing the identifier would leave a profile with none
├── IdentifierUnchanged          a change of identifier names the same value twice
├── Suppressed                   the identifier was erased on request and may not return
├── MassDeletionRefused          the deletion guard's allowance is spent; carries it
├── BatchTooLarge                a deletion batch names too many subjects
├── IdempotencyMismatch          an Idempotency-Key reused with another body
├── NotCancellable               the deletion job has left the queue
├── RateLimited                  over the surface's limit; carries retry_after seconds
└── DependencyUnavailable        a service it needs (Redis) is unreachable; carries its
                                 name and retry_after seconds (answered 503)
"""

from __future__ import annotations


class ObliviateError(Exception):
    """Base of every error Obliviate raises on purpose."""


class AuthenticationError(ObliviateError):
    def __init__(self, reason: str = "invalid credentials") -> None:
        super().__init__(reason)
        self.reason = reason


class MissingCredentials(AuthenticationError):
    """Told apart from wrong credentials where a surface answers the two differently."""

    def __init__(self) -> None:
        super().__init__("missing credentials")


class Forbidden(ObliviateError):
    def __init__(self, scope: str) -> None:
        super().__init__(f"this token lacks the {scope!r} scope")
        self.scope = scope


class ValidationError(ObliviateError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MergeLimitExceeded(ValidationError):
    """An upsert would fold more people into one profile than the tenant allows unconfirmed:
    a shared placeholder identifier must not turn many people into one (then deleted as one)."""

    def __init__(self, merging: int, limit: int) -> None:
        super().__init__(
            "identifiers",
            f"these identifiers would fold {merging} other people into one profile, more than "
            f"the {limit} allowed; if this is intended, resend with the header "
            "X-Obliviate-Confirm-Mass-Delete: yes",
        )
        self.merging = merging
        self.limit = limit


class NotFoundError(ObliviateError):
    pass


class ProfileNotFound(NotFoundError):
    def __init__(self, id_type: str, value: str) -> None:
        super().__init__(f"no profile with {id_type}")
        self.id_type = id_type
        self.value = value


class AccountNotFound(NotFoundError):
    def __init__(self, account_id: str) -> None:
        super().__init__("no account with this id")
        self.account_id = account_id


class DeviceNotFound(NotFoundError):
    def __init__(self, registration_id: str) -> None:
        super().__init__("no such device")
        self.registration_id = registration_id


class JobNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("no such deletion job")


class ExportJobNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("no such export job")


class ReceiptNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("no such receipt")


class SuppressionNotFound(NotFoundError):
    # Holds no value: the identifier is what a suppression keeps only as a keyed hash.
    def __init__(self) -> None:
        super().__init__("no such suppression")


class ModelNotFound(NotFoundError):
    def __init__(self, model: str) -> None:
        super().__init__(f"no model named {model!r}")
        self.model = model


class ConflictError(ObliviateError):
    pass


class DuplicateProfile(ConflictError):
    def __init__(self, id_type: str, value: str) -> None:
        super().__init__(f"an active profile already has this {id_type}")
        self.id_type = id_type
        self.value = value


class DuplicateAccount(ConflictError):
    def __init__(self, account_id: str) -> None:
        super().__init__("an account with this id exists")
        self.account_id = account_id


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


class Suppressed(ObliviateError):
    def __init__(self, id_type: str) -> None:
        super().__init__(f"this {id_type} is suppressed and cannot be re-created")
        self.id_type = id_type


class MassDeletionRefused(ObliviateError):
    def __init__(self, recent: int, allowed: int) -> None:
        super().__init__(
            f"mass-deletion guard: {recent} deletions in the last 60 minutes would exceed the "
            f"{allowed} allowed; if this is intended, resend with the header "
            "X-Obliviate-Confirm-Mass-Delete: yes (or the command line's --confirm-mass-delete)"
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


class RateLimited(ObliviateError):
    def __init__(self, retry_after: int, limit: int = 0) -> None:
        super().__init__(f"rate limited; retry after {retry_after}s")
        self.retry_after = retry_after
        self.limit = limit


class DependencyUnavailable(ObliviateError):
    """A dependency the request needs cannot be reached: the request is refused, not run."""

    def __init__(self, dependency: str, retry_after: int) -> None:
        super().__init__(f"{dependency} is unavailable; retry after {retry_after}s")
        self.dependency = dependency
        self.retry_after = retry_after
