"""The JSON API's models. Nothing here has a field that could carry a stored secret back out."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes (written in UTC); the API always says which zone it means.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


Timestamp = Annotated[dt.datetime, AfterValidator(_utc)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Model):
    detail: str | list[dict[str, Any]]
    problems: list[MappingProblem] | None = None  # set when a mapping was refused


class Me(Model):
    username: str
    role: str
    via: str


class TokenIn(Model):
    name: str = Field(min_length=1, max_length=64)


class TokenOut(Model):
    id: int
    name: str
    prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked: bool


class TokenCreated(Model):
    id: int
    name: str
    token: str = Field(description="shown once; only its hash is stored")


class Attempt(Model):
    at: str | None = None
    error: str
    field: str | None = None


class FailedOut(Model):
    id: int
    flow: str
    source_system: str
    source_object: str
    source_id: str
    status: str
    attempts: int
    last_error: str | None
    created_at: Timestamp
    updated_at: Timestamp


class FailedDetail(FailedOut):
    input: dict[str, Any]
    errors: list[Attempt]
    target_ids: dict[str, Any]


class ReplayIn(Model):
    ids: list[int] = Field(min_length=1, max_length=500)


class ReplayOut(Model):
    id: int
    source_id: str
    run_id: str | None
    error: str | None


class RecordKeyOut(Model):
    system: str
    object: str
    id: str


class StepOut(Model):
    at: Timestamp
    flow: str
    run_id: str | None
    system: str
    object: str
    record_id: str | None
    action: str
    detail: dict[str, Any]


class JourneyOut(Model):
    anchor: RecordKeyOut
    linked: list[RecordKeyOut]
    steps: list[StepOut]
    failures: list[dict[str, Any]]


class ConnectionIn(Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    system: str = Field(max_length=64, description="a registered system (GET /api/systems lists them) or smtp")
    base_url: str = Field(pattern=r"^(https?|smtps?)://", max_length=500)
    secrets: dict[str, str] = Field(description="write-only: e.g. client_id and client_secret for salesforce")
    settings: dict[str, str] = Field(default_factory=dict)


class CredentialsIn(Model):
    secrets: dict[str, str]


class ChangeFeedOut(Model):
    """What the service did with the connector's change-feed parameter: ``state`` honoured | ignored | rejected
    (| unknown), ``mode`` feed (reads by the parameter) | listing (full listings with a content hash per record)."""

    parameter: str = ""
    state: str = "unknown"
    mode: str = "feed"
    reason: str = ""
    since: str = ""


class ConnectionOut(Model):
    name: str
    system: str
    base_url: str
    settings: dict[str, Any]
    secret_names: list[str]
    has_webhook_secret: bool
    created_at: Timestamp
    rotated_at: Timestamp | None
    last_test_at: Timestamp | None
    last_test_ok: bool | None
    last_test_message: str | None
    change_feed: ChangeFeedOut | None = None


class ConnectionCreated(Model):
    connection: ConnectionOut
    webhook_secret: str = Field(description="for signing inbound webhooks; shown once")


class WebhookSecretOut(Model):
    webhook_secret: str


class TestOut(Model):
    ok: bool
    message: str


class MappingOut(Model):
    name: str
    system: str
    overridden: bool


class MappingText(Model):
    name: str
    yaml: str
    overridden: bool


class MappingIn(Model):
    yaml: str = Field(max_length=200_000)


class PreviewIn(Model):
    yaml: str = Field(max_length=200_000)
    record_id: str | None = Field(default=None, max_length=64)


class MappingProblem(Model):
    line: int | None
    column: int | None
    field: str | None
    message: str


class PreviewOut(Model):
    valid: bool
    problems: list[MappingProblem]
    record_id: str | None
    record_source: str | None
    values: dict[str, Any] | None
    provenance: dict[str, Any] | None


class AlertRuleIn(Model):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["failure_rate", "dead_letters", "api_budget", "stalled_trigger"]
    threshold: float = Field(ge=0, le=1e9)
    window_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    subject: str | None = Field(default=None, max_length=200)
    webhook_url: str | None = Field(default=None, pattern=r"^https?://", max_length=500)
    email_to: str | None = Field(default=None, max_length=500)
    cooldown_minutes: int = Field(default=60, ge=0, le=60 * 24 * 30)

    @field_validator("email_to")
    @classmethod
    def _recipients(cls, value: str | None) -> str | None:
        from ledgerlink.alerts.senders import parse_recipients

        return ", ".join(parse_recipients(value)) if value else value


class AlertRuleOut(AlertRuleIn):
    id: int
    enabled: bool
    last_fired_at: Timestamp | None


class AlertEventOut(Model):
    id: int
    rule_id: int
    at: Timestamp
    message: str
    value: float
    deliveries: dict[str, Any]


class FlowSummary(Model):
    flow: str
    writes: int
    failures_open: int
    last_activity: Timestamp | None
    source_checked: Timestamp | None = None  # the flow's trigger last read its source successfully, changes or none
    switched_on: bool | None = None  # None: not a flow of the engine's


class SeriesPoint(Model):
    at: Timestamp
    value: float


class OverviewOut(Model):
    flows: list[FlowSummary]
    synced_per_hour: list[SeriesPoint]
    failures_per_hour: list[SeriesPoint]
    api_budget: dict[str, list[SeriesPoint]]


class WebhookAccepted(Model):
    accepted: bool
    id: int


ErrorOut.model_rebuild()
