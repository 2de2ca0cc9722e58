"""The contract schemas are not rubber stamps.

Each schema in ``tests/contract/schemas`` must reject ``{}`` (start requests excepted), accept its examples,
reject a missing required field, an unknown field where it is closed, a value outside an enum and a value of
the wrong type. The enum literals below were copied from AMPECO's Public API 3.110.0 OpenAPI description;
they document the copied contract (the tests never read the spec itself).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.contract.schemas import (
    NAMES,
    assert_invalid,
    assert_valid,
    errors,
    example,
    example_files,
    load,
    variants,
)

MAX_SAFE_INTEGER = 2**53 - 1

# --------------------------------------------------------------------------------------------------- helpers


def _parts(pointer: str) -> list[str]:
    if pointer == "":
        return []
    assert pointer.startswith("/"), pointer
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _step(node: Any, part: str) -> Any:
    return node[int(part)] if isinstance(node, list) else node[part]


def get(doc: Any, pointer: str) -> Any:
    for part in _parts(pointer):
        doc = _step(doc, part)
    return doc


def with_value(doc: Any, pointer: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    *head, last = _parts(pointer)
    parent = doc
    for part in head:
        parent = _step(parent, part)
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value
    return doc


def without(doc: Any, pointer: str) -> Any:
    doc = copy.deepcopy(doc)
    *head, last = _parts(pointer)
    parent = doc
    for part in head:
        parent = _step(parent, part)
    assert last in parent, f"{pointer} is not in the example; the test table is stale"
    del parent[last]
    return doc


def _assert_parent_exists(key: str, pointer: str) -> None:
    parent = get(sample(key), pointer.rsplit("/", 1)[0])
    assert isinstance(parent, dict | list), f"{key}:{pointer} does not point into the example"


def sample(key: str) -> Any:
    """``"session"`` or ``"session.full"`` -> a fresh copy of that example."""
    name, _, variant = key.partition(".")
    return example(name, variant or None)


def schema_of(key: str) -> str:
    return key.partition(".")[0]


def _walk_keyword(node: Any, keyword: str, pointer: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{pointer}/{k.replace('~', '~0').replace('/', '~1')}"
            if k == keyword:
                found[here] = v
            else:
                found.update(_walk_keyword(v, keyword, here))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found.update(_walk_keyword(v, keyword, f"{pointer}/{i}"))
    return found


# ------------------------------------------------------------------------------------ copied enum literals

CRITICAL_SECURITY_EVENT_TYPES = [
    "FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot",
    "SecurityLogWasCleared", "MemoryExhaustion", "TamperDetectionActivated",
]  # fmt: skip
OCPP_SECURITY_EVENT_TYPES = [
    "FirmwareUpdated", "FailedToAuthenticateAtCentralSystem", "CentralSystemFailedToAuthenticate",
    "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot", "SecurityLogWasCleared",
    "ReconfigurationOfSecurityParameters", "MemoryExhaustion", "InvalidMessages", "AttemptedReplayAttacks",
    "TamperDetectionActivated", "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate",
    "InvalidCentralSystemCertificate", "InvalidChargePointCertificate", "InvalidTLSVersion",
    "InvalidTLSCipherSuite",
]  # fmt: skip
SESSION_STATUSES = ["unknown", "pending", "active", "finished", "failed", "expired"]
SESSION_REASONS = [
    "working_hours_exceeded", "timeout", "authorization_amount_reached", "new_start_transaction_received",
    "force_stop", "standard_stop", "energy_exceeded", "schedule_completed", "pre_authorization_failed",
    "system_force_stop", "time_limit", "balance_exceeded", "deauthorized", "emergencystop",
    "energylimitreached", "evdisconnected", "groundfault", "immediatereset", "hardreset", "local",
    "localoutofcredit", "masterpass", "other", "overcurrentfault", "powerloss", "powerquality", "reboot",
    "remote", "soclimitreached", "stoppedbyev", "timeoutlimitreached", "softreset", "unlockcommand",
    "no_ev_parked", "no_ev_connected", "charge_point_timeout", "charging_on_evse_not_allowed",
    "remote_start_failed", "no_user_for_agile_streets", "rejected", "canceled_reservation", "evse_occupied",
    "evse_inoperative", "failed", "not_supported", "unknown_reservation", "ev_not_connected_to_evse",
    "authorization_failed", "unknown_session",
]  # fmt: skip
PAYMENT_TYPES = ["tokenized", "subscription", "balance", "corporate", "terminal", "bank_transfer"]
PAYMENT_STATUSES = ["pending", "paid", "partially", "failed", None]
BILLING_STATUSES = ["pending", "suspended", "completed", None]
AUTHORIZATION_METHODS = ["user_device", "rfid_tag", "admin", "plug_and_charge"]
AUTHORIZATION_SOURCES = ["local", "roaming", "third_party"]
AUTHORIZATION_STATUSES = ["accepted", "rejected"]
CHARGING_STATES = ["charging", "idle"]
CHARGING_TYPES = ["boosted", "optimised"]
DAY_PERIODS = ["day", "night"]
PRICING_METHODS = ["duration", "energy", "durationAndEnergy", "free"]
PRICE_BREAKDOWN_TYPES = [
    "flat", "connection", "energy", "charging_time", "idle_time", "power_levels_time", "min_price",
    "service_fee", "energy_flat_fee", "duration_flat_fee", "idle_flat_fee",
]  # fmt: skip
PRICE_BREAKDOWN_UNITS = ["kwh", "minute", "session"]
START_STOP_ACTIONS = ["start", "stop"]
CHARGING_PROFILE_PURPOSES = ["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
CHARGING_PROFILE_KINDS = ["Absolute", "Recurring", "Relative"]
RECURRENCY_KINDS = ["Daily", "Weekly"]
CHARGING_RATE_UNITS = ["A", "W"]
# The start 202's errorCode enum in 3.110.0 (21 values). Our schema widens errorCode to any string, so this
# list is not an enum in the schema: every value must stay accepted, and so must an unknown one.
START_ERROR_CODES = [
    "BILLING_NOT_ASSOCIATED", "BILLING_NOT_PARTNER_ASSOCIATED", "INTERNAL_ISSUE", "SESSION_EXISTS",
    "AGILE_STREETS_CALCULATE", "AGILE_STREETS_COMMUNICATION", "CHARGING_NOT_ALLOWED", "LOCATION_IS_CLOSED",
    "USER_VALIDATION_NOT_COMPLETE", "TERMS_NOT_ACCEPTED", "USER_IS_DISABLED", "SUBSCRIPTION_REQUIRED",
    "SESSION_ALREADY_RUNNING", "PREVIOUS_SESSION_NOT_PAID", "ACCESS_RESTRICTED", "PAYMENT_METHOD_REQUIRED",
    "CANNOT_BILL_PAYMENT_METHOD", "CORPORATE_ACCOUNT_LIMIT_REACHED", "CANNOT_USE_EXPIRED_PAYMENT_METHOD",
    "CANNOT_USE_PAYMENT_METHOD", "PAYMENT_NO_FUNDS",
]  # fmt: skip

S = "/$defs/AmpecoSession/properties"
CP = "/properties/chargingProfile/properties"
PD = f"{S}/chargingPeriods/items/properties/pricingDetails/properties"
ENUMS = [
    ("security_event", "/properties/type/enum", CRITICAL_SECURITY_EVENT_TYPES),
    ("notification_security_event", "/properties/type/enum", OCPP_SECURITY_EVENT_TYPES),
    ("notification_session_start_stop", "/properties/action/enum", START_STOP_ACTIONS),
    ("notification_session_start_stop", "/properties/reason/enum", SESSION_REASONS),
    ("notification_session_start_stop_deprecated", "/properties/action/enum", START_STOP_ACTIONS),
    ("notification_session_start_stop_deprecated", "/properties/reason/enum", SESSION_REASONS),
    ("session", f"{S}/status/enum", SESSION_STATUSES),
    ("session", f"{S}/reason/enum", SESSION_REASONS),
    ("session", f"{S}/paymentType/enum", PAYMENT_TYPES),
    ("session", f"{S}/paymentStatus/enum", PAYMENT_STATUSES),
    ("session", f"{S}/billingStatus/enum", BILLING_STATUSES),
    ("session", f"{S}/authorization/properties/method/enum", AUTHORIZATION_METHODS),
    ("session", f"{S}/authorization/properties/source/enum", AUTHORIZATION_SOURCES),
    ("session", f"{S}/authorization/properties/status/enum", AUTHORIZATION_STATUSES),
    ("session", f"{S}/chargingPeriods/items/properties/chargingState/enum", CHARGING_STATES),
    ("session", f"{PD}/chargingType/anyOf/0/enum", CHARGING_TYPES),
    ("session", f"{PD}/dayPeriod/anyOf/0/enum", DAY_PERIODS),
    ("session", f"{PD}/pricingMethod/anyOf/0/enum", PRICING_METHODS),
    ("session", "/$defs/PriceBreakdownElement/properties/type/enum", PRICE_BREAKDOWN_TYPES),
    ("session", "/$defs/PriceBreakdownElement/properties/unit/enum", PRICE_BREAKDOWN_UNITS),
    ("start_request", f"{CP}/chargingProfilePurpose/enum", CHARGING_PROFILE_PURPOSES),
    ("start_request", f"{CP}/chargingProfileKind/enum", CHARGING_PROFILE_KINDS),
    ("start_request", f"{CP}/recurrencyKind/enum", RECURRENCY_KINDS),
    ("start_request", f"{CP}/chargingSchedule/properties/chargingRateUnit/enum", CHARGING_RATE_UNITS),
]
CONSTS = [
    ("notification_security_event", "/properties/notification/const", "SecurityEventNotification"),
    ("notification_session_update", "/properties/notification/const", "SessionUpdateNotification"),
    ("notification_session_start_stop", "/properties/notification/const", "session.start.stop.notification"),
    ("notification_session_start_stop_deprecated", "/properties/notification/const",
     "SessionStartStopNotification"),
]  # fmt: skip

# ------------------------------------------------------------------------------------------- test tables

# (example, pointer of a required member): removing it must fail.
REQUIRED = [
    *[("security_event", f"/{f}") for f in ("id", "chargePoint", "type", "techInfo", "timestamp")],
    ("security_event_read", "/data"),
    ("security_event_read", "/data/techInfo"),
    *[("security_events_listing", f"/{f}") for f in ("data", "links", "meta")],
    ("security_events_listing", "/links/next"),
    *[("security_events_listing", f"/meta/{f}") for f in ("path", "per_page", "next_cursor")],
    ("security_events_listing", "/data/1/id"),
    ("error", "/message"),
    *[("upstream_error", f"/{f}") for f in ("message", "errorCode")],
    *[("start_request.charging_profile", f"/chargingProfile/{f}")
      for f in ("stackLevel", "chargingProfilePurpose", "chargingProfileKind", "chargingSchedule")],
    *[("start_request.charging_profile", f"/chargingProfile/chargingSchedule/{f}")
      for f in ("chargingRateUnit", "chargingSchedulePeriod")],
    *[("start_request.charging_profile", f"/chargingProfile/chargingSchedule/chargingSchedulePeriod/1/{f}")
      for f in ("startPeriod", "limit")],
    ("start_request", "/userId"),  # paymentMethodId is set, so userId is required
    *[("start_response_202", f"/{f}") for f in ("success", "sessionId", "authorizationId")],
    *[("session", f"/{f}") for f in (
        "id", "status", "userId", "authorizationId", "energy", "energyConsumption", "chargePointId",
        "evseId", "startedAt", "billingStatus", "randomisedDelay")],
    ("session", "/energyConsumption/total"),
    ("session", "/energyConsumption/grid"),
    ("session", "/totalAmount/withTax"),
    *[("session.full", f"/authorization/{f}")
      for f in ("id", "method", "source", "createdAt", "status", "rejectionReason")],
    *[("session.full", f"/chargingPeriods/0/{f}") for f in ("id", "energy", "startedAt", "state")],
    *[("session.full", f"/chargingPeriods/0/priceBreakdown/0/{f}")
      for f in ("type", "currency", "price", "quantity", "pricePerUnit", "unit")],
    ("session.full", "/chargingPeriods/0/priceBreakdown/0/price/withTax"),
    *[("session.full", f"/priceBreakdown/0/{f}") for f in (
        "type", "currency", "price", "quantity", "pricePerUnit", "unit", "totalPrice", "unitPrice")],
    *[("session.full", f"/clockAlignedEnergyConsumption/0/{f}")
      for f in ("start", "end", "energyConsumed", "energyConsumption")],
    ("session.full", "/clockAlignedEnergyConsumption/0/totalCost/withTax"),
    ("session_read", "/data"),
    ("session_read", "/data/randomisedDelay"),
    *[("sessions_listing", f"/{f}") for f in ("data", "links", "meta")],
    ("sessions_listing", "/data/0/randomisedDelay"),
    ("sessions_listing", "/links/next"),
    *[("sessions_listing", f"/meta/{f}") for f in ("path", "per_page", "next_cursor")],
    *[("notification_security_event", f"/{f}")
      for f in ("notification", "chargePointId", "type", "timestamp", "critical")],
    *[("notification_session_update", f"/{f}") for f in ("notification", "session")],
    *[("notification_session_update", f"/session/{f}") for f in (
        "id", "status", "userId", "authorizationId", "energy", "energyConsumption", "chargePointId",
        "evseId", "startedAt", "billingStatus")],
    *[("notification_session_start_stop", f"/{f}") for f in (
        "notification", "sessionId", "chargePointId", "evseId", "action", "startedAtTimestamp",
        "meterStart", "meterStop", "lastUpdatedAt")],
    *[("notification_session_start_stop_deprecated", f"/{f}") for f in (
        "notification", "chargePointId", "evseId", "sessionId", "startedAtTimestamp", "lastUpdatedAt",
        "meterStart", "meterStop")],
]  # fmt: skip

# (example, pointer of an object that must be closed): an extra member must fail.
CLOSED = [
    ("security_event", ""),
    ("security_event_read", ""),
    ("security_event_read", "/data"),
    ("security_events_listing", ""),
    ("security_events_listing", "/data/0"),
    ("security_events_listing", "/links"),
    ("security_events_listing", "/meta"),
    ("error", ""),
    ("upstream_error", ""),
    ("start_response_202", ""),
    ("session", ""),
    ("session", "/totalAmount"),
    ("session", "/energyConsumption"),
    ("session", "/power"),
    ("session.full", "/tax"),
    ("session.full", "/roaming"),
    ("session.full", "/authorization"),
    ("session.full", "/authorization/roaming"),
    ("session.full", "/chargingPeriods/0"),
    ("session.full", "/chargingPeriods/0/pricingDetails"),
    ("session.full", "/chargingPeriods/0/priceBreakdown/0"),
    ("session.full", "/chargingPeriods/0/priceBreakdown/0/pricePerUnit"),
    ("session.full", "/priceBreakdown/0"),
    ("session.full", "/priceBreakdown/0/price"),
    ("session.full", "/clockAlignedEnergyConsumption/0"),
    ("session.full", "/clockAlignedEnergyConsumption/0/energyConsumption"),
    ("session.full", "/clockAlignedEnergyConsumption/0/totalCost"),
    ("session_read", ""),
    ("session_read", "/data"),
    ("sessions_listing", ""),
    ("sessions_listing", "/data/1"),
    ("sessions_listing", "/links"),
    ("sessions_listing", "/meta"),
    ("notification_security_event", ""),
    ("notification_session_update", ""),
    ("notification_session_update", "/session"),
    ("notification_session_start_stop", ""),
    ("notification_session_start_stop_deprecated", ""),
]

# (example, pointer of an object that must stay open): an extra member is fine.
OPEN = [
    ("start_request", ""),  # unknown body fields are forwarded to the tenant unchanged
    ("start_request.empty", ""),
    ("start_request.charging_profile", "/chargingProfile"),
    ("start_request.charging_profile", "/chargingProfile/chargingSchedule"),
    ("start_request.charging_profile", "/chargingProfile/chargingSchedule/chargingSchedulePeriod/0"),
    ("session.full", "/externalAppData"),  # AMPECO: additionalProperties true
    ("error", "/errors"),  # field names are free
]

# (example, pointer, a value outside the enum or const)
BAD_ENUM = [
    ("security_event", "/type", "InvalidMessages"),  # an OCPP type, but not one of the seven critical ones
    ("security_event", "/type", "tamperdetectionactivated"),
    ("security_events_listing", "/data/0/type", "Reboot"),
    ("notification_security_event", "/type", "SomethingHappened"),
    ("notification_security_event", "/notification", "SessionUpdateNotification"),
    ("notification_session_update", "/notification", "session.update"),
    ("notification_session_update", "/session/status", "charging"),
    ("notification_session_start_stop", "/notification", "SessionStartStopNotification"),
    ("notification_session_start_stop", "/action", "pause"),
    ("notification_session_start_stop.stop", "/reason", "ev_not_connect_to_evse"),  # the filter's typo
    ("notification_session_start_stop_deprecated", "/notification", "session.start.stop.notification"),
    ("notification_session_start_stop_deprecated", "/reason", "Remote"),
    ("session", "/status", "started"),
    ("session", "/reason", "user_stopped"),
    ("session", "/paymentType", "card"),
    ("session", "/paymentStatus", "refunded"),
    ("session", "/billingStatus", "null"),  # the string "null" is not null
    ("session.full", "/authorization/method", "app"),
    ("session.full", "/authorization/source", "remote"),
    ("session.full", "/authorization/status", "pending"),
    ("session.full", "/chargingPeriods/0/chargingState", "parked"),
    ("session.full", "/chargingPeriods/0/pricingDetails/chargingType", "turbo"),
    ("session.full", "/chargingPeriods/0/pricingDetails/dayPeriod", "evening"),
    ("session.full", "/chargingPeriods/0/pricingDetails/pricingMethod", "flat"),
    ("session.full", "/chargingPeriods/0/priceBreakdown/0/type", "parking"),
    ("session.full", "/priceBreakdown/0/unit", "hour"),
    ("sessions_listing", "/data/0/status", "ACTIVE"),
    ("session_read", "/data/status", "stopped"),
    ("start_request.charging_profile", "/chargingProfile/chargingProfilePurpose", "TxMaxProfile"),
    ("start_request.charging_profile", "/chargingProfile/chargingProfileKind", "absolute"),
    ("start_request.charging_profile", "/chargingProfile/recurrencyKind", "Monthly"),
    ("start_request.charging_profile", "/chargingProfile/chargingSchedule/chargingRateUnit", "kW"),
]

# (example, pointer, a value of the wrong type or format)
BAD_TYPE = [
    ("security_event", "/id", "7301942265418237"),
    ("security_event", "/id", 1.5),
    ("security_event", "/chargePoint", "1187"),
    ("security_event", "/techInfo", None),
    ("security_event", "/timestamp", 1732482847),
    ("security_event", "/timestamp", "2025-11-24T21:14:07"),  # no offset
    ("security_event", "/timestamp", "24/11/2025 21:14"),
    ("security_event", "/timestamp", "2025-02-30T00:00:00Z"),
    ("security_event", "/timestamp", "2025-11-24 21:14:07Z"),
    ("security_events_listing", "/data", {}),
    ("security_events_listing", "/links/next", "/public-api/resources/security-events/v2.0?cursor=x"),
    ("security_events_listing", "/meta/per_page", "2"),
    ("security_events_listing", "/meta/next_cursor", 17),
    ("error", "/message", None),
    ("error", "/errors", ["per_page is invalid"]),
    ("error", "/errors/per_page", "The per page must be between 1 and 100."),
    ("upstream_error", "/errorCode", None),
    ("start_request", "/userId", "10458"),
    ("start_request", "/paymentMethodId", 1234),
    ("start_request", "/idTag", 42),
    ("start_request", "/connectorId", "1"),
    ("start_request", "/bookingId", 2.5),
    ("start_request.charging_profile", "/chargingProfile/stackLevel", "1"),
    ("start_request.charging_profile", "/chargingProfile/validFrom", "tomorrow"),
    ("start_request.charging_profile", "/chargingProfile/chargingSchedule/duration", 1.5),
    ("start_request.charging_profile", "/chargingProfile/chargingSchedule/chargingSchedulePeriod", {}),
    ("start_request.charging_profile", "/chargingProfile/chargingSchedule/chargingSchedulePeriod/0/limit", "16"),
    ("start_request.charging_profile", "/chargingProfile/chargingSchedule/chargingSchedulePeriod/1/limit", 7.45),
    ("start_response_202", "/success", "true"),
    ("start_response_202", "/sessionId", "987654"),
    ("start_response_202", "/authorizationId", "5551234"),
    ("start_response_202.rejected", "/message", None),
    ("start_response_202.rejected", "/errorCode", None),
    ("session", "/id", 987654),  # AMPECO declares the session id a string
    ("session", "/id", ""),
    ("session", "/chargePointId", "1187"),
    ("session", "/evseId", None),
    ("session", "/userId", "10458"),
    ("session", "/startedAt", None),
    ("session", "/startedAt", "2025-11-24"),
    ("session", "/stoppedAt", "yesterday"),
    ("session", "/energy", "21450"),
    ("session", "/energy", None),
    ("session", "/currency", "GB"),
    ("session", "/currency", "POUND"),
    ("session", "/randomisedDelay", "347"),
    ("session", "/randomisedDelay", 3.5),
    ("session", "/randomisedDelay", None),
    ("session", "/randomisedDelay", -1),
    ("session", "/reimbursementEligibility", "false"),
    ("session", "/energyConsumption", None),
    ("session", "/totalAmount/withTax", "9.87"),
    ("session", "/power/latest", "7100"),
    ("session.full", "/bookingId", None),
    ("session.full", "/externalAppData", "fleet"),
    ("session.full", "/chargingPeriods/0/energy", 21450.5),
    ("session.full", "/roaming/cdrIds/0", "44120"),
    ("session.full", "/authorization/createdAt", "now"),
    ("sessions_listing", "/data/0/id", 987702),
    ("session_read", "/data", [example("session")]),
    ("notification_security_event", "/chargePointId", "1187"),
    ("notification_security_event", "/critical", "true"),
    ("notification_security_event", "/timestamp", "2025-11-24"),
    ("notification_security_event", "/techInfo", None),
    ("notification_session_update", "/session", None),
    ("notification_session_update", "/session/randomisedDelay", "347"),
    ("notification_session_start_stop", "/sessionId", "987654"),
    ("notification_session_start_stop", "/userId", None),
    ("notification_session_start_stop", "/meterStart", 1203345.5),
    ("notification_session_start_stop", "/startedAtTimestampLocal", "18:02"),
    ("notification_session_start_stop_deprecated", "/sessionId", "987654"),
    ("notification_session_start_stop_deprecated", "/energyConsumed", "21450"),
]

# (example, pointer) where AMPECO allows null
NULLABLE = [
    ("start_request", "/paymentMethodId"),
    ("start_request", "/connectorId"),
    ("start_request", "/bookingId"),
    ("start_request", "/externalSessionId"),
    ("start_response_202", "/sessionId"),
    ("start_response_202", "/authorizationId"),
    ("session", "/userId"),
    ("session", "/authorizationId"),
    ("session", "/billingStatus"),
    ("session", "/paymentStatus"),
    ("session", "/stoppedAt"),
    ("session", "/connectorId"),
    ("session", "/amount"),
    ("session", "/totalAmount"),
    ("session", "/paymentMethodId"),
    ("session", "/terminalId"),
    ("session", "/tariffSnapshotId"),
    ("session", "/electricityCost"),
    ("session", "/evsePhysicalReference"),
    ("session", "/paymentStatusUpdatedAt"),
    ("session", "/receiptId"),
    ("session", "/extendingSessionId"),
    ("session", "/externalSessionId"),
    ("session", "/power/peak"),
    ("session.full", "/tax"),
    ("session.full", "/externalAppData"),
    ("session.full", "/authorization/rejectionReason"),
    ("session.full", "/authorization/userId"),
    ("session.full", "/authorization/rfidTagUid"),
    ("session.full", "/chargingPeriods/0/stoppedAt"),
    ("session.full", "/chargingPeriods/0/amount"),
    ("session.full", "/chargingPeriods/0/pricingDetails/dayPeriod"),
    ("session.full", "/chargingPeriods/0/pricingDetails/pricingMethod"),
    ("session.full", "/priceBreakdown/0/taxPercentage"),
    ("security_events_listing", "/links/next"),
    ("security_events_listing", "/meta/next_cursor"),
    ("notification_session_start_stop", "/externalAppData"),
    ("notification_session_start_stop_deprecated", "/userId"),  # typed integer, described as null on stop
]


def _ids(table: list[tuple[Any, ...]]) -> list[str]:
    return [f"{row[0]}:{row[1] or '<root>'}" + (f"={row[2]!r}" if len(row) > 2 else "") for row in table]


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}.json")


@pytest.mark.parametrize("name", NAMES)
def test_schema_names_its_source_and_copies_no_prose(name: str) -> None:
    schema = load(name)
    assert "3.110.0" in schema["$comment"] or "CONTRACT" in schema["$comment"]
    assert not _walk_keyword(schema, "description"), "AMPECO's prose must not be copied"
    assert not _walk_keyword(schema, "example")
    assert not _walk_keyword(schema, "examples")


@pytest.mark.parametrize("name", [n for n in NAMES if n != "start_request"])
def test_empty_object_is_rejected(name: str) -> None:
    assert_invalid(name, {})


def test_start_request_accepts_empty_object() -> None:
    assert_valid("start_request", {})


@pytest.mark.parametrize("name", NAMES)
def test_non_objects_are_rejected(name: str) -> None:
    for junk in (None, [], "{}", 0, True):
        assert_invalid(name, junk)


@pytest.mark.parametrize("name", NAMES)
def test_every_schema_has_a_default_example(name: str) -> None:
    assert name in example_files()


@pytest.mark.parametrize("key", sorted(example_files()))
def test_example_is_valid(key: str) -> None:
    assert schema_of(key) in NAMES, f"example {key} names no schema"
    assert_valid(schema_of(key), sample(key))


def test_example_returns_a_fresh_copy() -> None:
    first = example("session")
    first["status"] = "mutated"
    assert example("session")["status"] == "finished"
    assert "full" in variants("session")


@pytest.mark.parametrize(("key", "pointer"), REQUIRED, ids=_ids(REQUIRED))
def test_removing_a_required_member_fails(key: str, pointer: str) -> None:
    instance = sample(key)
    assert_valid(schema_of(key), instance)
    assert_invalid(schema_of(key), without(instance, pointer))


def _root_required(name: str) -> list[str]:
    schema = load(name)
    required = list(schema.get("required", []))
    if schema.get("$ref", "").startswith("#/$defs/"):
        required += get(schema, schema["$ref"][1:]).get("required", [])
    return required


@pytest.mark.parametrize("name", NAMES)
def test_required_table_covers_every_top_level_required_member(name: str) -> None:
    covered = {p for k, p in REQUIRED if schema_of(k) == name}
    missing = [f for f in _root_required(name) if f"/{f}" not in covered]
    if name == "start_request":
        assert _root_required(name) == []
    assert not missing, f"{name}: add {missing} to REQUIRED"


@pytest.mark.parametrize(("key", "pointer"), CLOSED, ids=_ids(CLOSED))
def test_unknown_member_fails_where_closed(key: str, pointer: str) -> None:
    instance = sample(key)
    assert isinstance(get(instance, pointer), dict)
    assert_invalid(schema_of(key), with_value(instance, f"{pointer}/unexpectedField", "x"))
    assert_invalid(schema_of(key), with_value(instance, f"{pointer}/random_delay", 0))


@pytest.mark.parametrize(("key", "pointer"), OPEN, ids=_ids(OPEN))
def test_unknown_member_passes_where_open(key: str, pointer: str) -> None:
    instance = with_value(sample(key), f"{pointer}/futureField", {"any": ["thing"]})
    if schema_of(key) == "error":
        instance = with_value(sample(key), f"{pointer}/futureField", ["message"])
    assert_valid(schema_of(key), instance)


@pytest.mark.parametrize(("key", "pointer", "value"), BAD_ENUM, ids=_ids(BAD_ENUM))
def test_value_outside_enum_fails(key: str, pointer: str, value: Any) -> None:
    _assert_parent_exists(key, pointer)
    assert_invalid(schema_of(key), with_value(sample(key), pointer, value))


@pytest.mark.parametrize(("key", "pointer", "value"), BAD_TYPE, ids=_ids(BAD_TYPE))
def test_wrong_type_or_format_fails(key: str, pointer: str, value: Any) -> None:
    _assert_parent_exists(key, pointer)
    assert_invalid(schema_of(key), with_value(sample(key), pointer, value))


@pytest.mark.parametrize(("key", "pointer"), NULLABLE, ids=_ids(NULLABLE))
def test_null_passes_where_ampeco_allows_it(key: str, pointer: str) -> None:
    assert_valid(schema_of(key), with_value(sample(key), pointer, None))


# ------------------------------------------------------------------------------- security event specifics


@pytest.mark.parametrize(
    ("event_id", "ok"),
    [(1, True), (MAX_SAFE_INTEGER, True), (MAX_SAFE_INTEGER + 1, False), (2**63, False), (0, False), (-5, False)],
)
def test_security_event_id_is_a_json_safe_positive_integer(event_id: int, ok: bool) -> None:
    instance = with_value(example("security_event"), "/id", event_id)
    assert (not errors("security_event", instance)) is ok


@pytest.mark.parametrize(("length", "ok"), [(0, True), (1, True), (255, True), (256, False), (1000, False)])
def test_security_event_tech_info_is_at_most_255_characters(length: int, ok: bool) -> None:
    instance = with_value(example("security_event"), "/techInfo", "x" * length)
    assert (not errors("security_event", instance)) is ok
    listing = with_value(example("security_events_listing"), "/data/0/techInfo", "é" * length)
    assert (not errors("security_events_listing", listing)) is ok


@pytest.mark.parametrize("event_type", CRITICAL_SECURITY_EVENT_TYPES)
def test_every_critical_type_is_listed(event_type: str) -> None:
    assert_valid("security_event", with_value(example("security_event"), "/type", event_type))


@pytest.mark.parametrize("event_type", OCPP_SECURITY_EVENT_TYPES)
def test_every_ocpp_type_is_a_notification_type(event_type: str) -> None:
    assert_valid("notification_security_event", with_value(example("notification_security_event"), "/type", event_type))


@pytest.mark.parametrize(
    "timestamp",
    ["2025-11-24T21:14:07Z", "2025-11-24T21:14:07.123456Z", "2025-11-24T23:14:07+02:00", "2025-11-24T21:14:07-05:30"],
)
def test_timestamps_with_an_offset_pass(timestamp: str) -> None:
    assert_valid("security_event", with_value(example("security_event"), "/timestamp", timestamp))


# ---------------------------------------------------------------------------------- pagination specifics


@pytest.mark.parametrize("listing", ["security_events_listing", "sessions_listing"])
@pytest.mark.parametrize(("per_page", "ok"), [(1, True), (100, True), (0, False), (101, False)])
def test_per_page_is_1_to_100(listing: str, per_page: int, ok: bool) -> None:
    instance = with_value(example(listing), "/meta/per_page", per_page)
    assert (not errors(listing, instance)) is ok


@pytest.mark.parametrize("listing", ["security_events_listing", "sessions_listing"])
def test_a_page_holds_at_most_100_items(listing: str) -> None:
    item = example(listing)["data"][0]
    assert_valid(listing, with_value(example(listing), "/data", [item] * 100))
    assert_invalid(listing, with_value(example(listing), "/data", [item] * 101))


@pytest.mark.parametrize("listing", ["security_events_listing", "sessions_listing"])
def test_empty_cursor_is_not_a_cursor(listing: str) -> None:
    assert_invalid(listing, with_value(example(listing), "/meta/next_cursor", ""))


# -------------------------------------------------------------------------------------- start specifics


@pytest.mark.parametrize("code", [*START_ERROR_CODES, "SOME_FUTURE_CODE", "x"])
def test_start_error_code_is_any_string(code: str) -> None:
    assert_valid("start_response_202", with_value(example("start_response_202", "rejected"), "/errorCode", code))


def test_start_response_error_code_is_not_an_enum() -> None:
    assert "enum" not in load("start_response_202")["properties"]["errorCode"]
    assert len(START_ERROR_CODES) == len(set(START_ERROR_CODES)) == 21


def test_start_rejection_may_omit_error_code_and_message() -> None:
    assert_valid("start_response_202", {"success": False, "sessionId": None, "authorizationId": None})


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"paymentMethodId": "corporate:1234"}, False),
        ({"paymentMethodId": "balance"}, False),
        ({"paymentMethodId": "corporate:1234", "userId": 10458}, True),
        ({"paymentMethodId": None}, True),
        ({"paymentMethodId": ""}, True),
        ({"userId": 10458}, True),
        ({"idTag": "FLEET-00042", "somethingNew": [1, 2]}, True),
    ],
)
def test_payment_method_requires_user_id(body: dict[str, Any], ok: bool) -> None:
    assert (not errors("start_request", body)) is ok


@pytest.mark.parametrize(
    ("limit", "ok"), [(16, True), (16.0, True), (7.4, True), (0.3, True), (32.1, True), (7.45, False), (0.05, False)]
)
def test_charging_limit_is_a_multiple_of_a_tenth(limit: float, ok: bool) -> None:
    instance = with_value(
        example("start_request", "charging_profile"),
        "/chargingProfile/chargingSchedule/chargingSchedulePeriod/0/limit",
        limit,
    )
    assert (not errors("start_request", instance)) is ok


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("UPSTREAM_UNAVAILABLE", True),
        ("UPSTREAM_TIMEOUT", True),
        ("UPSTREAM_INVALID_RESPONSE", True),
        ("UPSTREAM_HTTP_401", True),
        ("UPSTREAM_HTTP_403", True),
        ("UPSTREAM_HTTP_503", True),
        ("UPSTREAM_HTTP_", False),
        ("UPSTREAM_HTTP_5000", False),
        ("PAYMENT_NO_FUNDS", False),
        ("upstream_timeout", False),
        ("", False),
    ],
)
def test_upstream_error_codes(code: str, ok: bool) -> None:
    instance = with_value(example("upstream_error"), "/errorCode", code)
    assert (not errors("upstream_error", instance)) is ok


# ------------------------------------------------------------------------------------ session specifics


def test_randomised_delay_is_required_in_the_bridge_session_but_not_in_ampeco_notifications() -> None:
    assert_invalid("session", without(example("session"), "/randomisedDelay"))
    assert_valid("notification_session_update", example("notification_session_update", "without_randomised_delay"))
    assert_valid("notification_session_update", example("notification_session_update"))
    assert 0 <= example("notification_session_update")["session"]["randomisedDelay"] <= 600


@pytest.mark.parametrize("delay", [0, 1, 347, 600, 1800])
def test_randomised_delay_is_a_whole_number_of_seconds(delay: int) -> None:
    assert_valid("session", with_value(example("session"), "/randomisedDelay", delay))


@pytest.mark.parametrize("status", SESSION_STATUSES)
def test_every_session_status_passes(status: str) -> None:
    assert_valid("session", with_value(example("session"), "/status", status))


@pytest.mark.parametrize("reason", SESSION_REASONS)
def test_every_session_reason_passes(reason: str) -> None:
    assert_valid("session", with_value(example("session"), "/reason", reason))
    assert_valid(
        "notification_session_start_stop",
        with_value(example("notification_session_start_stop", "stop"), "/reason", reason),
    )


def test_notification_session_is_the_same_resource_as_the_listing_item() -> None:
    body = example("notification_session_update")
    assert_valid("session", body["session"])  # it carries randomisedDelay
    leaked = with_value(body, "/session/pk", "SESSION#987654")
    assert_invalid("notification_session_update", leaked)
    assert_invalid("session_read", {"data": leaked["session"]})


def test_start_stop_twins_differ() -> None:
    new = load("notification_session_start_stop")
    old = load("notification_session_start_stop_deprecated")
    assert set(new["properties"]) - set(old["properties"]) == {"startedAtTimestampLocal", "stoppedAtTimestampLocal"}
    assert set(old["properties"]) - set(new["properties"]) == set()
    assert "action" in new["required"]
    assert "action" not in old["required"]
    deprecated_without_action = without(example("notification_session_start_stop_deprecated"), "/action")
    assert_valid("notification_session_start_stop_deprecated", deprecated_without_action)
    assert_invalid(
        "notification_session_start_stop_deprecated",
        with_value(
            example("notification_session_start_stop_deprecated"), "/startedAtTimestampLocal", "2025-11-24T18:02:11Z"
        ),
    )


# -------------------------------------------------------------------------- enums equal AMPECO's enums


@pytest.mark.parametrize(("name", "pointer", "expected"), ENUMS, ids=_ids(ENUMS))
def test_enum_equals_ampecos(name: str, pointer: str, expected: list[Any]) -> None:
    assert get(load(name), pointer) == expected


@pytest.mark.parametrize(("name", "pointer", "expected"), CONSTS, ids=_ids(CONSTS))
def test_notification_name_is_fixed(name: str, pointer: str, expected: str) -> None:
    assert get(load(name), pointer) == expected


@pytest.mark.parametrize("name", NAMES)
def test_every_enum_and_const_is_in_the_tables(name: str) -> None:
    schema = load(name)
    assert set(_walk_keyword(schema, "enum")) == {p for n, p, _ in ENUMS if n == name}
    assert set(_walk_keyword(schema, "const")) == {p for n, p, _ in CONSTS if n == name}
