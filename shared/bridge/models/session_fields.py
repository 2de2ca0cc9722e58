"""The typed fields of AMPECO's Session (3.110.0) beyond the ones the bridge indexes.

A SessionUpdateNotification whose session has one of these with the wrong type is quarantined, not stored:
the listings serve the stored document back, so a body AMPECO's own schema would refuse must not reach them.
Every field may be absent or null (AMPECO omits and nulls fields its schema does not mark nullable).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr

Number = StrictInt | StrictFloat

Reason = Literal[
    "working_hours_exceeded",
    "timeout",
    "authorization_amount_reached",
    "new_start_transaction_received",
    "force_stop",
    "standard_stop",
    "energy_exceeded",
    "schedule_completed",
    "pre_authorization_failed",
    "system_force_stop",
    "time_limit",
    "balance_exceeded",
    "deauthorized",
    "emergencystop",
    "energylimitreached",
    "evdisconnected",
    "groundfault",
    "immediatereset",
    "hardreset",
    "local",
    "localoutofcredit",
    "masterpass",
    "other",
    "overcurrentfault",
    "powerloss",
    "powerquality",
    "reboot",
    "remote",
    "soclimitreached",
    "stoppedbyev",
    "timeoutlimitreached",
    "softreset",
    "unlockcommand",
    "no_ev_parked",
    "no_ev_connected",
    "charge_point_timeout",
    "charging_on_evse_not_allowed",
    "remote_start_failed",
    "no_user_for_agile_streets",
    "rejected",
    "canceled_reservation",
    "evse_occupied",
    "evse_inoperative",
    "failed",
    "not_supported",
    "unknown_reservation",
    "ev_not_connected_to_evse",
    "authorization_failed",
    "unknown_session",
]
PaymentType = Literal[
    "tokenized",
    "subscription",
    "balance",
    "corporate",
    "terminal",
    "bank_transfer",
]
PaymentStatus = Literal[
    "pending",
    "paid",
    "partially",
    "failed",
]
BillingStatus = Literal[
    "pending",
    "suspended",
    "completed",
]


class SessionFields(BaseModel):
    """AMPECO's Session fields with their types; unknown fields pass (new AMPECO releases add some)."""

    # defer_build: built on first validation (a push, a listing or a start never needs it).
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    connectorId: StrictInt | None = None  # noqa: N815
    reason: Reason | None = None
    userId: StrictInt | None = None  # noqa: N815
    bookingId: StrictInt | None = None  # noqa: N815
    energy: Number | None = None
    powerKw: Number | None = None  # noqa: N815
    socPercent: Number | None = None  # noqa: N815
    amount: Number | None = None
    totalAmount: dict[str, Any] | None = None  # noqa: N815
    tax: dict[str, Any] | None = None
    currency: StrictStr | None = None
    paymentType: PaymentType | None = None  # noqa: N815
    paymentMethodId: StrictStr | None = None  # noqa: N815
    terminalId: StrictInt | None = None  # noqa: N815
    nonBillableEnergy: Number | None = None  # noqa: N815
    paymentStatus: PaymentStatus | None = None  # noqa: N815
    authorizationId: StrictInt | None = None  # noqa: N815
    idTagLabel: StrictStr | None = None  # noqa: N815
    extendingSessionId: StrictInt | None = None  # noqa: N815
    originalSessionId: StrictInt | None = None  # noqa: N815
    extendedBySessionId: StrictInt | None = None  # noqa: N815
    reimbursementEligibility: StrictBool | None = None  # noqa: N815
    externalSessionId: StrictStr | None = None  # noqa: N815
    authorization: dict[str, Any] | None = None
    chargingPeriods: list[Any] | None = None  # noqa: N815
    priceBreakdown: list[Any] | None = None  # noqa: N815
    tariffSnapshotId: StrictInt | None = None  # noqa: N815
    electricityCost: Number | None = None  # noqa: N815
    evsePhysicalReference: StrictStr | None = None  # noqa: N815
    chargePointOperatorRoamingId: StrictStr | None = None  # noqa: N815
    roaming: dict[str, Any] | None = None
    receiptId: StrictInt | None = None  # noqa: N815
    externalAppData: dict[str, Any] | None = None  # noqa: N815
    clockAlignedEnergyConsumption: list[Any] | None = None  # noqa: N815
    energyConsumption: dict[str, Any] | None = None  # noqa: N815
    estimatedSavings: Number | None = None  # noqa: N815
    billingStatus: BillingStatus | None = None  # noqa: N815
    power: dict[str, Any] | None = None
