"""The settings tree: ``[database]``, ``[connections]``, ``[defaults]`` (what every flow shares) and one
``[flows.<name>]`` section per flow (``enabled``, ``schedule``, its own settings, and any shared key it overrides).

A flow's section is a pydantic model of its own (``FLOW_MODELS``), so a flow's new setting is one field there.
Keys the engine's ``FlowSettings`` has but this tree does not name yet are accepted where the validation context
lists them (``extra_fields``: name → type), so a setting added there is settable from the file at once.
"""

from __future__ import annotations

from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ledgerlink.settings.schedule import Schedule, parse_schedule

# Keys the engine's FlowSettings has beyond this tree (name → type), and flows registered beyond FLOW_MODELS: set
# by the loader for one validation (BaseSettings takes no validation context).
ENGINE_FIELDS: ContextVar[dict[str, Any] | None] = ContextVar("engine_fields", default=None)
EXTRA_FLOWS: ContextVar[frozenset[str]] = ContextVar("extra_flows", default=frozenset())


def _schedule(value: Any) -> Schedule:
    if isinstance(value, Schedule):
        return value
    if not isinstance(value, str):
        raise ValueError("a schedule is text: a cron expression, 'every 30 seconds' or 'daily at 2 AM'")
    return parse_schedule(value)


ScheduleText = Annotated[Schedule, BeforeValidator(_schedule), PlainSerializer(str, return_type=str)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$|^\*$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatabaseSettings(_Section):
    url: str | None = Field(default=None, description="PostgreSQL or SQLite URL; empty: SQLite in data_dir")
    data_dir: Path = Field(default=Path(".ledgerlink"), description="the ledger (SQLite), DBOS database and vault key")
    # What the engine keeps of its finished runs (DBOS's workflow history: a run, its input, output and steps). The
    # audit log and the failed records are the ledger's and are not touched. An idle worker polling every 5 s
    # writes ~5,800 runs an hour, so without a limit the database only grows (benchmarks/README.md, run history).
    history_days: float = Field(
        default=7.0,
        ge=0,
        le=3650,
        description="days a finished run's history is kept (0: for ever; otherwise at least 3)",
    )
    poll_history_hours: float = Field(
        default=6.0,
        ge=0,
        le=87600,
        description="hours a finished polling run's history is kept (0: as long as other runs'; otherwise at least 1)",
    )

    @field_validator("history_days", "poll_history_hours")
    @classmethod
    def _long_enough(cls, value: float, info: ValidationInfo) -> float:
        # Change events can be replayed for 72 hours: a run one started must still be known (and so not run again)
        # for as long as the event can come back. A polling run must outlive its slot.
        if info.field_name == "history_days" and 0 < value < 3:
            raise ValueError("keep at least 3 days (change events are replayed for up to 72 hours), or 0 for ever")
        if info.field_name == "poll_history_hours" and 0 < value < 1:
            raise ValueError("keep polling runs at least 1 hour, or 0 to keep them as long as other runs")
        return value


class ConnectionsSettings(_Section):
    """References to connections stored (encrypted) in the vault, by name: never the credentials themselves."""

    crm: str | None = Field(default=None, description="the CRM connection's name in the vault")
    accounting: str | None = Field(default=None, description="the accounting connection's name in the vault")


class TaxRule(_Section):
    """First matching rule wins: by the customer's billing country, the product's family, or both."""

    country: list[str] | None = None  # ISO codes or names ("IE", "Ireland")
    family: list[str] | None = None  # Product2.Family values
    rate: Decimal = Field(ge=0, le=100)

    @field_validator("country", "family", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _says_when(self) -> TaxRule:
        if not self.country and not self.family:
            raise ValueError("a tax rule names a country, a family, or both")
        return self

    def as_mapping_rule(self) -> dict[str, Any]:
        """The form the mapping's ``tax_rate`` transform reads."""
        rule: dict[str, Any] = {"rate": str(self.rate)}
        if self.country:
            rule["country"] = self.country
        if self.family:
            rule["family"] = self.family
        return rule


DeletePolicy = Literal["archive", "ignore"]


class _AcceptsEngineFields(_Section):
    """Unknown keys are refused, except those the engine's FlowSettings has (named in the validation context)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    @model_validator(mode="after")
    def _known_extras(self) -> Any:
        allowed = ENGINE_FIELDS.get() or {}
        for key, value in list((self.model_extra or {}).items()):
            if key not in allowed:
                raise ValueError(f"unknown key {key!r}")
            # Validated with the engine field's own type; stored back validated.
            self.model_extra[key] = TypeAdapter(allowed[key]).validate_python(value)  # type: ignore[index]
        return self


class SharedSettings(_AcceptsEngineFields):
    """``[defaults]``: what every flow reads unless its own section says otherwise."""

    payment_terms_days: int = Field(default=30, ge=0, le=365)
    default_currency: str = Field(default="GBP", pattern=r"^[A-Z]{3}$")
    default_tax_rate: Decimal = Field(default=Decimal("20"), ge=0, le=100)
    tax_rules: list[TaxRule] = Field(default_factory=list)
    default_nominal_code: int = Field(default=4000, ge=0)
    create_missing_products: bool = True
    delete_policy: DeletePolicy = "archive"
    source_priority: list[str] = Field(default_factory=list)
    match_threshold: float = Field(default=90.0, ge=0, le=100)
    sync_page_size: int = Field(default=200, ge=1, le=2000)


SHARED_KEYS = frozenset(SharedSettings.model_fields)


class FlowSection(_AcceptsEngineFields):
    """``[flows.<name>]``: the switch, the schedule, and overrides of ``[defaults]`` for this flow only."""

    enabled: bool = True
    schedule: ScheduleText | None = None
    # Overrides of [defaults]; None: as in [defaults].
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    default_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    default_tax_rate: Decimal | None = Field(default=None, ge=0, le=100)
    tax_rules: list[TaxRule] | None = None
    default_nominal_code: int | None = None
    create_missing_products: bool | None = None
    delete_policy: DeletePolicy | None = None
    source_priority: list[str] | None = None
    match_threshold: float | None = Field(default=None, ge=0, le=100)
    sync_page_size: int | None = Field(default=None, ge=1, le=2000)

    def own(self) -> dict[str, Any]:
        """The flow-specific keys this section sets (not the switch, schedule or overrides)."""
        skip = {"enabled", "schedule", *SHARED_KEYS}
        values = {k: getattr(self, k) for k in type(self).model_fields if k not in skip}
        return {**values, **(self.model_extra or {})}

    def overrides(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SHARED_KEYS if getattr(self, k) is not None}


class OpportunityToInvoice(FlowSection):
    pass  # no schedule: every polling interval of the worker (`ledgerlink worker --poll-interval`)


class OrderToInvoice(FlowSection):
    # Off: a deal that is both a won Opportunity and an activated Order would be invoiced twice with both on.
    enabled: bool = False


class CustomerSync(FlowSection):
    pass


class ProductSync(FlowSection):
    pass


class PaymentSync(FlowSection):
    pass


class InvoicePdf(FlowSection):
    invoice_pdf_source: Literal["books", "render"] = "books"


class LatePayment(FlowSection):
    # No schedule: hourly (the flow's own period).
    late_payment_days: int = Field(default=14, ge=0, le=365)
    late_payment_case_priority: Literal["High", "Medium", "Low"] = "High"


class Reconciliation(FlowSection):
    schedule: ScheduleText | None = Field(default_factory=lambda: parse_schedule("daily at 2 AM"))

    @field_validator("schedule")
    @classmethod
    def _cron_only(cls, value: Schedule | None) -> Schedule | None:
        if value is not None and value.cron is None:
            raise ValueError("the reconciliation runs on a clock: 'daily at 2 AM' or a cron expression")
        return value


FLOW_MODELS: dict[str, type[FlowSection]] = {
    "opportunity_to_invoice": OpportunityToInvoice,
    "order_to_invoice": OrderToInvoice,
    "customer_sync": CustomerSync,
    "product_sync": ProductSync,
    "payment_sync": PaymentSync,
    "invoice_pdf": InvoicePdf,
    "late_payment": LatePayment,
    "reconciliation": Reconciliation,
}


class FlowsSettings(_Section):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    opportunity_to_invoice: OpportunityToInvoice = Field(default_factory=OpportunityToInvoice)
    order_to_invoice: OrderToInvoice = Field(default_factory=OrderToInvoice)
    customer_sync: CustomerSync = Field(default_factory=CustomerSync)
    product_sync: ProductSync = Field(default_factory=ProductSync)
    payment_sync: PaymentSync = Field(default_factory=PaymentSync)
    invoice_pdf: InvoicePdf = Field(default_factory=InvoicePdf)
    late_payment: LatePayment = Field(default_factory=LatePayment)
    reconciliation: Reconciliation = Field(default_factory=Reconciliation)

    @model_validator(mode="after")
    def _known_flows(self) -> FlowsSettings:
        # A flow registered by a plugin (or a user-defined one) gets a plain section.
        allowed = EXTRA_FLOWS.get()
        for name, value in list((self.model_extra or {}).items()):
            if name not in allowed or name in FLOW_MODELS:
                known = ", ".join(dict.fromkeys([*FLOW_MODELS, *sorted(allowed)]))
                raise ValueError(f"no flow named {name!r}; flows: {known}")
            self.model_extra[name] = FlowSection.model_validate(value)  # type: ignore[index]
        return self

    def sections(self) -> dict[str, FlowSection]:
        named = {name: getattr(self, name) for name in FLOW_MODELS}
        return {**named, **(self.model_extra or {})}


class LedgerLinkSettings(BaseSettings):
    """The whole file, with ``LEDGERLINK_<SECTION>__<KEY>`` environment overrides
    (``LEDGERLINK_FLOWS__ORDER_TO_INVOICE__ENABLED=true``; lists as JSON). Validated at start; an error names the
    file, the line and the key."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGERLINK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
        case_sensitive=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (passed in as init values); no .env files or secret directories.
        return (env_settings, init_settings)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    connections: ConnectionsSettings = Field(default_factory=ConnectionsSettings)
    defaults: SharedSettings = Field(default_factory=SharedSettings)
    flows: FlowsSettings = Field(default_factory=FlowsSettings)

    def flow(self, name: str) -> FlowSection:
        sections = self.flows.sections()
        if name not in sections:
            raise KeyError(f"no flow named {name!r}; flows: {', '.join(sections)}")
        return sections[name]

    def resolved(self, flow: str | None = None) -> dict[str, Any]:
        """Flat settings (FlowSettings' names): [defaults], every flow's own keys, then ``flow``'s overrides."""
        out: dict[str, Any] = {k: getattr(self.defaults, k) for k in SHARED_KEYS}
        out.update(self.defaults.model_extra or {})
        for section in self.flows.sections().values():
            out.update(section.own())
        if flow is not None and flow in self.flows.sections():
            out.update(self.flow(flow).overrides())
        return out
