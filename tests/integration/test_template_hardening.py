"""Template hardening: what template.yaml promises about throttling, concurrency, keys, delivery DLQs and access logs.

Each test reads template.yaml through local/template.py's loader and fails when a rule is broken; the ones
that can also look at the local stack built from the same template (local/stack.py in moto) do so, so the
emulation is held to the template too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.aws import ACCOUNT_ID, REGION, in_memory_aws
from local.stack import Stack
from local.template import Tag, TemplateModel, load_template

RECONCILER_FUNCTION = "ReconcilerFunction"
WEBHOOKS_FUNCTION = "WebhooksFunction"
KEY = "MessagingKey"
# Alarms' own topic, with its own key (tests/integration/test_template_operations.py): not a relay topic.
ALERT_TOPIC = "AlertTopic"
# CloudWatch Logs' valid retention periods (PutRetentionPolicy), in days.
LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
LOG_RETENTION_DAYS |= {2922, 3288, 3653}
# The access-log fields and the only $context variable each may hold: request metadata, never headers or bodies.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationError": "$context.integration.error",
    "errorMessage": "$context.error.message",
    "responseType": "$context.error.responseType",
    "integrationStatus": "$context.integration.integrationStatus",
}


@pytest.fixture(scope="module")
def template() -> TemplateModel:
    return TemplateModel(load_template())


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with in_memory_aws():
        yield Stack.create()


def evaluator(template: TemplateModel, **parameters: Any) -> Stack:
    """Resolves parameters, pseudo parameters and conditions without creating anything."""
    return Stack(template, {**template.parameter_defaults(), **parameters})


def props(template: TemplateModel, name: str) -> dict[str, Any]:
    return dict(template.resources[name].get("Properties", {}))


def references(value: Any) -> set[str]:
    """Logical ids a value refers to through Ref, GetAtt or ${...} in Sub."""
    found: set[str] = set()
    if isinstance(value, Tag):
        if value.name == "Ref":
            found.add(str(value.value))
        elif value.name == "GetAtt":
            found.add(str(value.value[0]))
        elif value.name == "Sub":
            text = value.value if isinstance(value.value, str) else value.value[0]
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
        else:
            found |= references(value.value)
    elif isinstance(value, dict):
        for inner in value.values():
            found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def decode_resource_path(resource_path: str) -> str:
    """`/~1webhooks~1ampeco` -> `/webhooks/ampeco`: a leading `/`, then the path with `/` as `~1`, `~` as `~0`."""
    assert resource_path.startswith("/"), resource_path
    return resource_path[1:].replace("~1", "/").replace("~0", "~") or "/"


def check_number_parameter(template: TemplateModel, name: str, minimum: int) -> int:
    spec = template.raw["Parameters"][name]
    assert spec["Type"] == "Number"
    assert spec["MinValue"] >= minimum
    assert spec["MinValue"] <= spec["Default"] <= spec["MaxValue"]
    assert spec.get("Description"), f"{name} says what it is for"
    return int(spec["Default"])


# ---------------------------------------------------------------------- throttling
def test_each_webhook_route_has_its_own_stage_throttle(template: TemplateModel) -> None:
    # Given the webhook routes, which carry no API key: the usage plan's throttle only counts keyed requests
    webhook_routes = [route for route in template.routes() if route.function == WEBHOOKS_FUNCTION]
    assert len(webhook_routes) == 2
    assert not any(route.api_key_required for route in webhook_routes)
    api = props(template, "BridgeApi")
    settings = {(decode_resource_path(s["ResourcePath"]), s["HttpMethod"]): s for s in api.get("MethodSettings", [])}

    # Then each has a stage method setting with both limits from the parameters
    for route in webhook_routes:
        setting = settings.get((route.path, route.method))
        assert setting is not None, f"no MethodSettings entry for {route.method} {route.path}"
        assert setting["ThrottlingRateLimit"] == Tag("Ref", "WebhookThrottleRateLimit")
        assert setting["ThrottlingBurstLimit"] == Tag("Ref", "WebhookThrottleBurstLimit")
    assert check_number_parameter(template, "WebhookThrottleRateLimit", minimum=1) > 0
    assert check_number_parameter(template, "WebhookThrottleBurstLimit", minimum=1) > 0


def test_every_method_setting_names_a_route_that_exists(template: TemplateModel) -> None:
    # A setting left behind by a renamed route would throttle nothing, and say nothing about it.
    routes = {(route.path, route.method) for route in template.routes()}
    for setting in props(template, "BridgeApi").get("MethodSettings", []):
        key = (decode_resource_path(setting["ResourcePath"]), setting["HttpMethod"])
        assert key in routes, f"MethodSettings entry for a route the API does not have: {key}"


def test_a_throttled_request_gets_429_with_retry_after_in_ampecos_format(template: TemplateModel) -> None:
    throttled = props(template, "BridgeApi")["GatewayResponses"]["THROTTLED"]
    assert str(throttled["StatusCode"]) == "429"
    assert throttled["ResponseParameters"]["Headers"]["Retry-After"] == "'1'"
    body = throttled["ResponseTemplates"]["application/json"]
    assert json.loads(body.replace("$context.error.messageString", '"Too Many Requests"')) == {
        "message": "Too Many Requests"
    }


# ---------------------------------------------------------------------- reserved concurrency
@pytest.mark.parametrize(("reserved", "expected"), [(0, None), (1, 1), (25, 25), (300, 300)])
def test_webhooks_function_reserves_its_concurrency_unless_the_parameter_is_zero(
    template: TemplateModel, reserved: int, expected: int | None
) -> None:
    # 0 must mean "no reservation" (AWS::NoValue): ReservedConcurrentExecutions 0 would stop the function.
    setting = props(template, WEBHOOKS_FUNCTION)["ReservedConcurrentExecutions"]
    resolved = evaluator(template, WebhooksReservedConcurrency=reserved).resolve(setting)
    assert (None if resolved is None else int(resolved)) == expected


def test_reserved_concurrency_parameter_tells_small_accounts_what_to_set(template: TemplateModel) -> None:
    assert check_number_parameter(template, "WebhooksReservedConcurrency", minimum=0) > 0
    description = template.raw["Parameters"]["WebhooksReservedConcurrency"]["Description"]
    assert "100" in description
    assert "must set 0" in description


def test_no_other_function_reserves_concurrency(template: TemplateModel) -> None:
    # A reservation elsewhere would shrink the pool starts share, the opposite of the point; the reconciler's
    # single run at a time is the one exception, and it takes one.
    for name, function in template.functions().items():
        if name == RECONCILER_FUNCTION:
            assert function["Properties"]["ReservedConcurrentExecutions"] == 1
        elif name != WEBHOOKS_FUNCTION:
            assert "ReservedConcurrentExecutions" not in function["Properties"], name


# ---------------------------------------------------------------------- the messaging key
def message_topics(template: TemplateModel) -> dict[str, dict[str, Any]]:
    """The topics the relay publishes to: every topic but the alarms' own."""
    topics = template.of_type("AWS::SNS::Topic")
    assert ALERT_TOPIC in topics, "the alert topic is left out by name: it must exist"
    return {name: topic for name, topic in topics.items() if name != ALERT_TOPIC}


def sns_statements(template: TemplateModel) -> list[dict[str, Any]]:
    statements = props(template, KEY)["KeyPolicy"]["Statement"]
    return [s for s in statements if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"]


def test_sns_may_use_the_messaging_key_only_on_behalf_of_this_stacks_topics(template: TemplateModel) -> None:
    # Given the topic ARNs as CloudFormation will name them
    topics = message_topics(template)
    names = evaluator(template)
    expected = {
        f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{names.resolve(t['Properties']['TopicName'])}" for t in topics.values()
    }
    assert len(expected) == len(topics) == 2

    statements = sns_statements(template)
    assert len(statements) == 1
    for statement in statements:
        condition = names.resolve(statement["Condition"])
        # Then SNS must act for this account...
        assert condition["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
        # ...and for exactly these topics
        source_arns = (condition.get("ArnEquals") or condition["ArnLike"])["aws:SourceArn"]
        assert set(source_arns) == expected


def test_the_key_policy_names_the_topics_without_referring_to_them(template: TemplateModel) -> None:
    # The topics refer to the key (KmsMasterKeyId): a Ref back from the key's policy would be a circular dependency.
    topics = set(message_topics(template))
    assert not references(props(template, KEY)) & topics
    for name in topics:
        assert props(template, name)["KmsMasterKeyId"] == Tag("Ref", KEY)
        assert "AWS::StackName" in str(props(template, name)["TopicName"].value)  # unique per stack and Region


def test_local_key_policy_conditions_name_the_created_topics(stack: Stack) -> None:
    # The local stack stores the resolved policy: its ARNs are the topics it created, by the template's names.
    kms = boto3.client("kms", region_name=REGION)
    policy = json.loads(kms.get_key_policy(KeyId=stack.refs[KEY], PolicyName="default")["Policy"])
    sns = [s for s in policy["Statement"] if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"]
    topics = {stack.refs[name] for name in message_topics(stack.template)}
    assert [set(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in sns] == [topics]


# ---------------------------------------------------------------------- SNS delivery DLQs
def subscriptions(template: TemplateModel) -> dict[str, dict[str, Any]]:
    """The subscriber queues' subscriptions (the alert topic's email subscription is not one)."""
    return {
        name: sub
        for name, sub in template.of_type("AWS::SNS::Subscription").items()
        if sub["Properties"]["Protocol"] == "sqs"
    }


def queue_policies_for(template: TemplateModel, queue: str) -> list[dict[str, Any]]:
    return [
        p["Properties"]["PolicyDocument"]
        for p in template.of_type("AWS::SQS::QueuePolicy").values()
        if Tag("Ref", queue) in p["Properties"]["Queues"]
    ]


def sns_may_send_from(template: TemplateModel, queue: str, topic: str) -> bool:
    for document in queue_policies_for(template, queue):
        for statement in document["Statement"]:
            sources = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn", [])
            if (
                statement["Effect"] == "Allow"
                and statement["Principal"] == {"Service": "sns.amazonaws.com"}
                and "sqs:SendMessage" in str(statement["Action"])
                and Tag("Ref", topic) in (sources if isinstance(sources, list) else [sources])
            ):
                return True
    return False


def depth_alarms(template: TemplateModel, queue: str) -> list[str]:
    return [
        name
        for name, alarm in template.of_type("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
        and alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": Tag("GetAtt", [queue, "QueueName"])} in alarm["Properties"]["Dimensions"]
    ]


def test_template_ships_three_subscriptions(template: TemplateModel) -> None:
    assert len(subscriptions(template)) == 3  # the parametrised tests below would pass vacuously on none


@pytest.mark.parametrize("subscription", sorted(subscriptions(TemplateModel(load_template()))))
def test_every_sns_subscription_keeps_failed_deliveries_in_an_encrypted_dlq(
    template: TemplateModel, subscription: str
) -> None:
    sub = props(template, subscription)
    topic = sub["TopicArn"].value
    # Given the subscription's dead-letter queue
    target = sub["RedrivePolicy"]["deadLetterTargetArn"]
    assert isinstance(target, Tag)
    assert target.name == "GetAtt"
    assert target.value[1] == "Arn"
    dlq = target.value[0]
    assert template.resources[dlq]["Type"] == "AWS::SQS::Queue"
    assert dlq != sub["Endpoint"].value[0], "the DLQ must not be the queue whose delivery failed"
    # Then SNS can write to it: encrypted with the key SNS may use (not alias/aws/sqs), and allowed from the topic
    for queue in (dlq, sub["Endpoint"].value[0]):
        assert props(template, queue)["KmsMasterKeyId"] == Tag("Ref", KEY), queue
        assert sns_may_send_from(template, queue, topic), f"SNS may not send from {topic} to {queue}"
    # And anything landing in it raises an alarm
    assert depth_alarms(template, dlq), f"no depth alarm on {dlq}"
    assert props(template, dlq)["MessageRetentionPeriod"] == 1209600


@pytest.mark.parametrize("topic", ["SecurityEventsTopic", "StartResultsTopic"])
def test_each_topic_alarms_when_a_failed_delivery_could_not_even_be_kept(template: TemplateModel, topic: str) -> None:
    alarms = [
        alarm["Properties"]
        for alarm in template.of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/SNS"
        and alarm["Properties"].get("MetricName") == "NumberOfNotificationsFailedToRedriveToDlq"
        and {"Name": "TopicName", "Value": Tag("GetAtt", [topic, "TopicName"])} in alarm["Properties"]["Dimensions"]
    ]
    assert len(alarms) == 1
    assert alarms[0]["Threshold"] == 0
    assert alarms[0]["ComparisonOperator"] == "GreaterThanThreshold"


def test_local_subscriptions_carry_their_redrive_policy(stack: Stack) -> None:
    sns = boto3.client("sns", region_name=REGION)
    for name, res in subscriptions(stack.template).items():
        attributes = sns.get_subscription_attributes(SubscriptionArn=stack.refs[name])["Attributes"]
        dlq = res["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].value[0]
        assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": stack.attrs[(dlq, "Arn")]}


# ---------------------------------------------------------------------- access logs
def test_stage_access_log_is_one_json_line_of_request_metadata(template: TemplateModel) -> None:
    setting = props(template, "BridgeApi")["AccessLogSetting"]
    log_format = setting["Format"]
    assert "\n" not in log_format, "API Gateway takes a single-line format"
    # Every value is exactly one allowed $context variable: no header, body, API key or other variable
    assert json.loads(log_format) == ACCESS_LOG_FIELDS
    assert set(re.findall(r"\$[\w.]+", log_format)) == set(ACCESS_LOG_FIELDS.values())
    # Written to the stack's own log group, kept for a parameterised, valid number of days
    assert setting["DestinationArn"] == Tag("GetAtt", ["ApiAccessLogGroup", "Arn"])
    retention = props(template, "ApiAccessLogGroup")["RetentionInDays"]
    assert retention == Tag("Ref", "ApiAccessLogRetentionDays")
    spec = template.raw["Parameters"]["ApiAccessLogRetentionDays"]
    assert set(spec["AllowedValues"]) <= LOG_RETENTION_DAYS
    assert spec["Default"] in spec["AllowedValues"]


def test_api_gateway_logging_role_is_optional_and_set_before_the_stage(template: TemplateModel) -> None:
    spec = template.raw["Parameters"]["CreateApiGatewayLoggingRole"]
    assert spec["Default"] == "true"
    assert set(spec["AllowedValues"]) == {"true", "false"}
    assert "account" in spec["Description"]
    assert "Region" in spec["Description"]
    condition = "ManageApiGatewayLoggingRole"
    assert evaluator(template)._condition(condition) is True
    assert evaluator(template, CreateApiGatewayLoggingRole="false")._condition(condition) is False

    # The role and the account setting exist only when asked for; the role outlives the stack
    role, account = template.resources["ApiGatewayLoggingRole"], template.resources["ApiGatewayAccount"]
    assert role["Condition"] == account["Condition"] == condition
    assert role["DeletionPolicy"] == "Retain"
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "apigateway.amazonaws.com"}]
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in str(role["Properties"]["ManagedPolicyArns"])
    assert account["Properties"]["CloudWatchRoleArn"] == Tag("GetAtt", ["ApiGatewayLoggingRole", "Arn"])

    # The API waits for the account setting when the stack makes it (DependsOn cannot name a conditional resource)
    api_depends_on = template.resources["BridgeApi"].get("DependsOn")
    gate = api_depends_on if isinstance(api_depends_on, str) else None
    assert gate is not None
    assert "Condition" not in template.resources[gate]
    waits_for = template.resources[gate]["Metadata"]["AccountSetting"]
    assert waits_for == Tag("If", [condition, Tag("Ref", "ApiGatewayAccount"), ""])


def test_local_stack_creates_the_access_log_group_with_its_retention(stack: Stack) -> None:
    logs = boto3.client("logs", region_name=REGION)
    group = stack.refs["ApiAccessLogGroup"]
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == stack.parameters["ApiAccessLogRetentionDays"]
