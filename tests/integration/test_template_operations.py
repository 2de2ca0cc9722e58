"""Operations: what template.yaml promises about alarms, the alert topic, the dashboard, retention and keeping data.

Each test reads template.yaml through local/template.py's loader (as tests/integration/test_template_hardening.py
does) and fails when a rule is broken: a queue without a dead-letter queue, a dead-letter queue nobody is paged
about, an alarm that notifies nobody, a function without an Errors or Throttles alarm, a table that a stack
deletion would take with it, a stream whose lag nobody watches.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic.fields import FieldInfo

from bridge.settings import ReconcilerSettings, StartSettings, WebhookSettings
from local.aws import REGION, in_memory_aws
from local.stack import Stack
from local.template import ROOT, Tag, TemplateModel, load_template

ALERT_TOPIC = "AlertTopic"
DASHBOARD = "OperationsDashboard"
NAMESPACE = "AmpecoBridge"
PSEUDO_PARAMETERS = {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"}
MAX_DESCRIPTION = 1024  # CloudWatch's limit on AlarmDescription


@pytest.fixture(scope="module")
def template() -> TemplateModel:
    return TemplateModel(load_template())


def props(template: TemplateModel, name: str) -> dict[str, Any]:
    return dict(template.resources[name].get("Properties", {}))


def alarms(template: TemplateModel) -> dict[str, dict[str, Any]]:
    return {name: res["Properties"] for name, res in template.of_type("AWS::CloudWatch::Alarm").items()}


def arn_of(value: Any) -> str | None:
    """The logical id behind `!GetAtt X.Arn` (None for anything else)."""
    if isinstance(value, Tag) and value.name == "GetAtt" and value.value[1] == "Arn":
        return str(value.value[0])
    return None


def dead_letter_queues(template: TemplateModel) -> dict[str, str]:
    """Every queue that receives what failed elsewhere, with what sends it there."""
    found: dict[str, str] = {}
    for name in template.of_type("AWS::SQS::Queue"):
        target = arn_of(props(template, name).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        if target:
            found[target] = f"the redrive policy of queue {name}"
    for name in template.of_type("AWS::SNS::Subscription"):
        target = arn_of(props(template, name).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        if target:
            found[target] = f"the redrive policy of subscription {name}"
    for function, fn in template.functions().items():
        for event_name, event in fn["Properties"].get("Events", {}).items():
            on_failure = event.get("Properties", {}).get("DestinationConfig", {}).get("OnFailure", {})
            target = arn_of(on_failure.get("Destination"))
            if target:
                found[target] = f"the on-failure destination of {function}.{event_name}"
    return found


def metric_alarms(template: TemplateModel, namespace: str, metric: str, name: str, value: Any) -> list[str]:
    """Alarms on one metric of one resource (single-metric alarms: the form every resource alarm takes)."""
    return [
        alarm_name
        for alarm_name, alarm in alarms(template).items()
        if alarm.get("Namespace") == namespace
        and alarm.get("MetricName") == metric
        and {"Name": name, "Value": value} in alarm.get("Dimensions", [])
    ]


def dashboard_body(template: TemplateModel) -> tuple[str, dict[str, Any]]:
    """The dashboard's !Sub text, and its JSON with every ${...} replaced as CloudFormation would (by a marker)."""
    body = props(template, DASHBOARD)["DashboardBody"]
    assert isinstance(body, Tag)
    assert body.name == "Sub"
    assert isinstance(body.value, str), "a plain !Sub: every ${...} is a parameter, pseudo parameter or resource"
    return body.value, json.loads(re.sub(r"\$\{([^}!]+)\}", lambda m: f"SUB:{m.group(1)}", body.value))


def bounds(field: FieldInfo) -> tuple[int, int]:
    found = {name: getattr(item, name) for item in field.metadata for name in ("ge", "le") if getattr(item, name, None)}
    return int(found.get("ge", 0)), int(found["le"])


# ---------------------------------------------------------------------- queues and their dead-letter queues
def test_every_queue_has_a_dead_letter_queue_or_is_one(template: TemplateModel) -> None:
    queues = template.of_type("AWS::SQS::Queue")
    dlqs = dead_letter_queues(template)
    assert set(dlqs) <= set(queues), "a redrive or on-failure target that is not a queue of this template"
    for name in queues:
        target = arn_of(props(template, name).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        assert target in queues or name in dlqs, f"{name} has no dead-letter queue and is none"
        if target:
            assert target != name


@pytest.mark.parametrize("queue", sorted(dead_letter_queues(TemplateModel(load_template()))))
def test_every_dead_letter_queue_pages_when_anything_lands_in_it(template: TemplateModel, queue: str) -> None:
    found = metric_alarms(
        template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", Tag("GetAtt", [queue, "QueueName"])
    )
    assert len(found) == 1, f"{queue} needs exactly one depth alarm, has {found}"
    alarm = alarms(template)[found[0]]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold"), "one message pages"
    assert alarm["Statistic"] == "Maximum"


def test_the_template_has_the_dead_letter_queues_it_should(template: TemplateModel) -> None:
    # Three subscriber queues' DLQs, three SNS delivery DLQs, the deferred-completion DLQ, the streams' failures.
    assert len(dead_letter_queues(template)) == 8


# ---------------------------------------------------------------------- every alarm pages someone
def test_every_alarm_notifies_the_alert_topic_when_it_fires_and_when_it_clears(template: TemplateModel) -> None:
    assert len(alarms(template)) >= 30
    for name, alarm in alarms(template).items():
        assert alarm.get("AlarmActions") == [Tag("Ref", ALERT_TOPIC)], f"{name} notifies nobody"
        assert alarm.get("OKActions") == [Tag("Ref", ALERT_TOPIC)], f"{name} never says it is over"


def test_every_alarm_says_what_it_means_and_treats_missing_data_on_purpose(template: TemplateModel) -> None:
    for name, alarm in alarms(template).items():
        description = alarm.get("AlarmDescription", "")
        assert 100 <= len(description) <= MAX_DESCRIPTION, f"{name}: what it means and what to check first"
        assert "Check first" in description or "check first" in description, name
        assert alarm.get("TreatMissingData") in {"notBreaching", "breaching"}, name


@pytest.mark.parametrize("function", sorted(TemplateModel(load_template()).functions()))
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(
    template: TemplateModel, function: str, metric: str
) -> None:
    found = metric_alarms(template, "AWS/Lambda", metric, "FunctionName", Tag("Ref", function))
    assert len(found) == 1, f"{function} needs one {metric} alarm, has {found}"
    alarm = alarms(template)[found[0]]
    assert alarm["Statistic"] == "Sum"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_every_stream_event_source_has_an_iterator_age_alarm(template: TemplateModel) -> None:
    sources = template.stream_sources()
    assert {(s.function, s.table) for s in sources} == {
        ("RelayFunction", "SecurityEventsTable"),
        ("RelayFunction", "AttemptsTable"),
    }
    for source in sources:
        # Lambda reports IteratorAge per function: one alarm on the function covers each of its streams.
        found = metric_alarms(template, "AWS/Lambda", "IteratorAge", "FunctionName", Tag("Ref", source.function))
        assert len(found) == 1, f"no iterator-age alarm covers {source.function}'s {source.table} stream"
        alarm = alarms(template)[found[0]]
        assert alarm["Statistic"] == "Maximum"
        # Paged well before the event sources' one-hour record age limit gives records up.
        for event in template.functions()[source.function]["Properties"]["Events"].values():
            if event["Type"] == "DynamoDB":
                assert alarm["Threshold"] < int(event["Properties"]["MaximumRecordAgeInSeconds"]) * 1000 / 2


@pytest.mark.parametrize(("metric", "statistic"), [("5XXError", "Statistic"), ("Latency", "ExtendedStatistic")])
def test_the_api_stage_alarms_on_5xx_and_p99_latency(template: TemplateModel, metric: str, statistic: str) -> None:
    found = [
        alarm
        for alarm in alarms(template).values()
        if alarm.get("Namespace") == "AWS/ApiGateway" and alarm.get("MetricName") == metric
    ]
    assert len(found) == 1
    # SAM titles the REST API after the stack (its OpenAPI info.title), so ApiName is the stack name.
    assert found[0]["Dimensions"] == [
        {"Name": "ApiName", "Value": Tag("Ref", "AWS::StackName")},
        {"Name": "Stage", "Value": Tag("Ref", "StageName")},
    ]
    assert statistic in found[0]
    if metric == "Latency":
        assert found[0]["ExtendedStatistic"] == "p99"


def test_the_bridges_own_alarms_are_kept(template: TemplateModel) -> None:
    named = {alarm.get("MetricName") for alarm in alarms(template).values()}
    for metric in ("QuarantinedNotifications", "StuckAttemptsFinalised", "UndeliveredMessages", "RequestsRefused"):
        assert metric in named, metric


# ---------------------------------------------------------------------- the alert topic
def test_the_alert_topic_uses_a_key_cloudwatch_may_use(template: TemplateModel) -> None:
    # alias/aws/sns would not do: its policy cannot be changed, and CloudWatch may not use it, so the alarm's
    # action fails and nobody is paged.
    key = props(template, ALERT_TOPIC)["KmsMasterKeyId"]
    assert isinstance(key, Tag)
    assert key.name == "Ref"
    assert template.resources[key.value]["Type"] == "AWS::KMS::Key"
    assert props(template, key.value)["EnableKeyRotation"] is True
    statements = props(template, key.value)["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"] == Tag("Ref", "AWS::AccountId")
    assert ":alarm:" in str(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"].value)
    # No other service may use the alert key.
    services = [s for s in statements if "Service" in s.get("Principal", {})]
    assert services == [cloudwatch]


@pytest.mark.parametrize(("email", "subscribed"), [("", False), ("ops@example.com", True)])
def test_alarms_are_emailed_only_when_an_address_is_given(
    template: TemplateModel, email: str, subscribed: bool
) -> None:
    [(name, subscription)] = [
        (n, s) for n, s in template.of_type("AWS::SNS::Subscription").items() if s["Properties"]["Protocol"] == "email"
    ]
    assert subscription["Properties"]["TopicArn"] == Tag("Ref", ALERT_TOPIC)
    assert subscription["Properties"]["Endpoint"] == Tag("Ref", "AlertEmail")
    spec = template.raw["Parameters"]["AlertEmail"]
    assert spec["Default"] == ""
    assert re.fullmatch(spec["AllowedPattern"], email)
    evaluator = Stack(template, {**template.parameter_defaults(), "AlertEmail": email})
    assert evaluator._condition(subscription["Condition"]) is subscribed
    # The local stack creates it under the same condition.
    with in_memory_aws():
        stack = Stack.create(parameters={"AlertEmail": email})
        listed = boto3.client("sns", region_name=REGION).list_subscriptions_by_topic(TopicArn=stack.refs[ALERT_TOPIC])
        assert [s["Endpoint"] for s in listed["Subscriptions"]] == ([email] if subscribed else [])
        assert (name in stack.refs) is subscribed


@pytest.mark.parametrize("value", ["not an address", "a@b", "two@example.com three@example.com"])
def test_the_alert_email_parameter_refuses_what_is_not_one_address(template: TemplateModel, value: str) -> None:
    assert not re.fullmatch(template.raw["Parameters"]["AlertEmail"]["AllowedPattern"], value)


# ---------------------------------------------------------------------- the dashboard
def test_the_dashboard_body_is_json_whose_substitutions_all_resolve(template: TemplateModel) -> None:
    text, body = dashboard_body(template)
    assert body["widgets"]
    known = set(template.resources) | set(template.raw["Parameters"]) | PSEUDO_PARAMETERS
    for placeholder in re.findall(r"\$\{([^}!]+)\}", text):
        name, _, attribute = placeholder.partition(".")
        assert name in known, f"${{{placeholder}}} names nothing"
        if attribute:
            assert attribute in {"Arn", "QueueName"}, placeholder


def test_the_dashboard_lists_every_alarm_and_every_dead_letter_queue(template: TemplateModel) -> None:
    text, body = dashboard_body(template)
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert set(alarm_widget["properties"]["alarms"]) == {f"SUB:{name}.Arn" for name in alarms(template)}
    depth = [
        m[3]
        for w in body["widgets"]
        if w["type"] == "metric"
        for m in w["properties"]["metrics"]
        if m[:2] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible"]
    ]
    assert sorted(depth) == sorted(f"SUB:{queue}.QueueName" for queue in dead_letter_queues(template))
    assert '"IteratorAge", "FunctionName", "${RelayFunction}"' in text


@pytest.mark.parametrize(
    "metric", ["RequestsRefused", "StartResults", "SecurityEventsStored", "NotificationsReceived", "ReconciledItems"]
)
def test_the_dashboard_shows_intake_refusals_starts_and_reconciliation(template: TemplateModel, metric: str) -> None:
    text, _ = dashboard_body(template)
    assert f'"{metric}"' in text or f'\\"{metric}\\"' in text


def test_every_bridge_metric_the_dashboard_and_alarms_name_is_one_the_code_emits(template: TemplateModel) -> None:
    code = [path for base in ("shared/bridge", "functions") for path in (ROOT / base).rglob("*.py")]
    sources = "".join(path.read_text() for path in code)
    text, body = dashboard_body(template)
    named = {a["MetricName"] for a in alarms(template).values() if a.get("Namespace") == NAMESPACE}
    for alarm in alarms(template).values():
        for query in alarm.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == NAMESPACE:
                named.add(metric["MetricName"])
    for widget in body["widgets"]:
        for entry in widget.get("properties", {}).get("metrics", []):
            if entry[0] == NAMESPACE:
                named.add(entry[1])
    named |= set(re.findall(r'MetricName=\\"(\w+)\\"', text))
    assert "StartResults" in named
    for metric in sorted(named):
        assert f'"{metric}"' in sources, f"nothing in the code emits {metric}"


# ---------------------------------------------------------------------- keeping data
@pytest.mark.parametrize("table", sorted(TemplateModel(load_template()).of_type("AWS::DynamoDB::Table")))
def test_every_table_survives_the_stack_and_can_be_restored(template: TemplateModel, table: str) -> None:
    resource = template.resources[table]
    assert resource.get("DeletionPolicy") == "Retain", "deleting the stack would delete the data"
    assert resource.get("UpdateReplacePolicy") == "Retain", "a replacing update would delete the data"
    assert props(template, table)["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props(template, table)["SSESpecification"] == {"SSEEnabled": True}


def test_attempts_expire_on_expires_at_when_a_retention_is_set(template: TemplateModel) -> None:
    assert props(template, "AttemptsTable")["TimeToLiveSpecification"] == {
        "AttributeName": "expiresAt",
        "Enabled": True,
    }
    env = props(template, "StartsFunction")["Environment"]["Variables"]
    assert env["ATTEMPT_RETENTION_DAYS"] == Tag("Ref", "AttemptRetentionDays")


@pytest.mark.parametrize("function", ["WebhooksFunction", "ReconcilerFunction"])
def test_functions_that_write_notification_records_get_their_retention(template: TemplateModel, function: str) -> None:
    env = props(template, function)["Environment"]["Variables"]
    assert env["NOTIFICATION_RETENTION_DAYS"] == Tag("Ref", "NotificationRetentionDays")


@pytest.mark.parametrize(
    ("parameter", "model", "field", "default"),
    [
        ("AttemptRetentionDays", StartSettings, "attempt_retention_days", 0),
        ("NotificationRetentionDays", WebhookSettings, "notification_retention_days", 30),
        ("NotificationRetentionDays", ReconcilerSettings, "notification_retention_days", 30),
    ],
)
def test_retention_parameters_allow_exactly_what_the_functions_accept(
    template: TemplateModel, parameter: str, model: Any, field: str, default: int
) -> None:
    # A value the template takes but a function refuses would fail every cold start after the deploy.
    spec = template.raw["Parameters"][parameter]
    assert spec["Type"] == "Number"
    assert (spec["MinValue"], spec["MaxValue"]) == bounds(model.model_fields[field])
    assert spec["Default"] == model.model_fields[field].default == default
    assert spec["Description"]


def test_notification_records_are_kept_at_least_as_long_as_ampeco_redeliveries_are_deduplicated(
    template: TemplateModel,
) -> None:
    from bridge.models.notifications import RETENTION

    assert template.raw["Parameters"]["NotificationRetentionDays"]["MinValue"] == RETENTION.days == 30


# ---------------------------------------------------------------------- deploying
def test_the_example_samconfig_sets_every_parameter_with_a_comment(template: TemplateModel) -> None:
    text = Path(ROOT / "samconfig.toml.example").read_text()
    lines = text.splitlines()
    for parameter in template.raw["Parameters"]:
        [index] = [i for i, line in enumerate(lines) if re.match(rf"""\s*["']{parameter}=""", line)]
        assert lines[index - 1].strip().startswith("#"), f"{parameter} needs a comment above it"
    assert 'capabilities = "CAPABILITY_IAM"' in text


def test_the_deploy_guide_covers_every_parameter(template: TemplateModel) -> None:
    guide = Path(ROOT / "docs/deploy.md").read_text()
    for parameter in template.raw["Parameters"]:
        assert f"`{parameter}`" in guide, parameter
