"""Secrets from Secrets Manager through Powertools Parameters, cached for a few minutes."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider

from bridge import aws
from bridge.errors import StorageUnavailable

CACHE_SECONDS = 300


@lru_cache(maxsize=2)
def _provider(stage: str) -> SecretsProvider:
    # One provider per version stage (Powertools' cache key ignores the SDK options), on the client of the
    # container's one session: without `boto3_client` it would build a session of its own.
    del stage
    return SecretsProvider(boto3_client=aws.client("secretsmanager"))


def secret_value(secret_id: str) -> str:
    """The current value of a secret."""
    try:
        value = _provider("AWSCURRENT").get(secret_id, max_age=CACHE_SECONDS)
    except GetParameterError as exc:
        raise StorageUnavailable("A secret could not be read.", retry_after=5) from exc
    return str(value)


def secret_values_in_rotation(secret_id: str) -> list[str]:
    """The current value, then the previous one while a rotation is under way."""
    values = [secret_value(secret_id)]
    try:
        previous = _provider("AWSPREVIOUS").get(secret_id, max_age=CACHE_SECONDS, VersionStage="AWSPREVIOUS")
    except GetParameterError:
        return values  # no rotation has happened yet
    if previous and previous != values[0]:
        values.append(str(previous))
    return values


def clear_cache() -> None:
    """Forget cached values (tests, and after a known rotation)."""
    _provider.cache_clear()  # the providers hold the values; new ones start empty (and build no client now)
