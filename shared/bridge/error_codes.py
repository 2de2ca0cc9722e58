"""AMPECO 3.110.0's start `errorCode`s: what each means and which team it is for."""

from __future__ import annotations

from enum import StrEnum


class Audience(StrEnum):
    """Who acts on a failed start."""

    BILLING = "billing"  # payment and billing set-up: the billing team
    CUSTOMER = "customer"  # the driver's account: customer support
    OPERATIONS = "operations"  # sites, tariffs, integrations and the platform: operations


class ErrorCode(StrEnum):
    """The 21 codes of a rejected start (`success: false`)."""

    BILLING_NOT_ASSOCIATED = "BILLING_NOT_ASSOCIATED"
    BILLING_NOT_PARTNER_ASSOCIATED = "BILLING_NOT_PARTNER_ASSOCIATED"
    INTERNAL_ISSUE = "INTERNAL_ISSUE"
    SESSION_EXISTS = "SESSION_EXISTS"
    AGILE_STREETS_CALCULATE = "AGILE_STREETS_CALCULATE"
    AGILE_STREETS_COMMUNICATION = "AGILE_STREETS_COMMUNICATION"
    CHARGING_NOT_ALLOWED = "CHARGING_NOT_ALLOWED"
    LOCATION_IS_CLOSED = "LOCATION_IS_CLOSED"
    USER_VALIDATION_NOT_COMPLETE = "USER_VALIDATION_NOT_COMPLETE"
    TERMS_NOT_ACCEPTED = "TERMS_NOT_ACCEPTED"
    USER_IS_DISABLED = "USER_IS_DISABLED"
    SUBSCRIPTION_REQUIRED = "SUBSCRIPTION_REQUIRED"
    SESSION_ALREADY_RUNNING = "SESSION_ALREADY_RUNNING"
    PREVIOUS_SESSION_NOT_PAID = "PREVIOUS_SESSION_NOT_PAID"
    ACCESS_RESTRICTED = "ACCESS_RESTRICTED"
    PAYMENT_METHOD_REQUIRED = "PAYMENT_METHOD_REQUIRED"
    CANNOT_BILL_PAYMENT_METHOD = "CANNOT_BILL_PAYMENT_METHOD"
    CORPORATE_ACCOUNT_LIMIT_REACHED = "CORPORATE_ACCOUNT_LIMIT_REACHED"
    CANNOT_USE_EXPIRED_PAYMENT_METHOD = "CANNOT_USE_EXPIRED_PAYMENT_METHOD"
    CANNOT_USE_PAYMENT_METHOD = "CANNOT_USE_PAYMENT_METHOD"
    PAYMENT_NO_FUNDS = "PAYMENT_NO_FUNDS"

    @property
    def meaning(self) -> str:
        """AMPECO's explanation of the code."""
        return _MEANINGS[self]

    @property
    def audience(self) -> Audience:
        """The team a subscriber routes this code to."""
        if self in BILLING_CODES:
            return Audience.BILLING
        if self in _CUSTOMER_CODES:
            return Audience.CUSTOMER
        return Audience.OPERATIONS


UNSPECIFIED_REJECTION = "UNSPECIFIED_REJECTION"  # a rejection that carries no code
UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"  # the tenant did not answer in time: it may have started a session
UPSTREAM_UNKNOWN = "UPSTREAM_UNKNOWN"  # the sweeper's verdict on an attempt whose result was never recorded
# A correction of a sweep's verdict: the start never reached the tenant (its caller was told 503).
UPSTREAM_NOT_CALLED = "UPSTREAM_NOT_CALLED"

# The billing subscription's filter policy in template.yaml lists exactly these.
BILLING_CODES = frozenset(
    {
        ErrorCode.BILLING_NOT_ASSOCIATED,
        ErrorCode.BILLING_NOT_PARTNER_ASSOCIATED,
        ErrorCode.SUBSCRIPTION_REQUIRED,
        ErrorCode.PREVIOUS_SESSION_NOT_PAID,
        ErrorCode.PAYMENT_METHOD_REQUIRED,
        ErrorCode.CANNOT_BILL_PAYMENT_METHOD,
        ErrorCode.CORPORATE_ACCOUNT_LIMIT_REACHED,
        ErrorCode.CANNOT_USE_EXPIRED_PAYMENT_METHOD,
        ErrorCode.CANNOT_USE_PAYMENT_METHOD,
        ErrorCode.PAYMENT_NO_FUNDS,
    }
)
_CUSTOMER_CODES = frozenset(
    {
        ErrorCode.USER_VALIDATION_NOT_COMPLETE,
        ErrorCode.TERMS_NOT_ACCEPTED,
        ErrorCode.USER_IS_DISABLED,
        ErrorCode.SESSION_ALREADY_RUNNING,
        ErrorCode.ACCESS_RESTRICTED,
    }
)
_MEANINGS = {
    ErrorCode.BILLING_NOT_ASSOCIATED: "The selected corporate billing is not associated with the user",
    ErrorCode.BILLING_NOT_PARTNER_ASSOCIATED: "Corporate billing is not allowed on EVSEs of this partner",
    ErrorCode.INTERNAL_ISSUE: "Internal issue at the tenant",
    ErrorCode.SESSION_EXISTS: "Session already exists",
    ErrorCode.AGILE_STREETS_CALCULATE: "Agile Streets calculation issue",
    ErrorCode.AGILE_STREETS_COMMUNICATION: "Could not connect with Agile Streets",
    ErrorCode.CHARGING_NOT_ALLOWED: "The tariff does not allow charging on this EVSE",
    ErrorCode.LOCATION_IS_CLOSED: "The charge point's location is closed",
    ErrorCode.USER_VALIDATION_NOT_COMPLETE: "The user's email or phone is not verified or the profile is incomplete",
    ErrorCode.TERMS_NOT_ACCEPTED: "The user has not accepted the latest terms",
    ErrorCode.USER_IS_DISABLED: "The user's account is disabled",
    ErrorCode.SUBSCRIPTION_REQUIRED: "No active subscription for this charge point",
    ErrorCode.SESSION_ALREADY_RUNNING: "Another running session is not allowed",
    ErrorCode.PREVIOUS_SESSION_NOT_PAID: "The previous session must be paid first",
    ErrorCode.ACCESS_RESTRICTED: "No access to this charge point",
    ErrorCode.PAYMENT_METHOD_REQUIRED: "A payment method is required",
    ErrorCode.CANNOT_BILL_PAYMENT_METHOD: "The payment method is invalid or the partner does not allow billing",
    ErrorCode.CORPORATE_ACCOUNT_LIMIT_REACHED: "Corporate billing not allowed, not set up, or its limit reached",
    ErrorCode.CANNOT_USE_EXPIRED_PAYMENT_METHOD: "The payment method has expired",
    ErrorCode.CANNOT_USE_PAYMENT_METHOD: "The payment method is not allowed or the subscription is cancelled",
    ErrorCode.PAYMENT_NO_FUNDS: "Balance below the minimum or not enough funds on the card",
}
