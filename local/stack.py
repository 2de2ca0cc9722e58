"""Creates in moto every key, table, topic, queue, subscription, secret and log group that template.yaml declares
(a resource with a Condition only when the condition holds: the alert email subscription needs AlertEmail).

The API's own resources (stage settings, access-log role, account setting) have no local counterpart: the local
HTTP adapter stands in for API Gateway, so they are read from the template by tests, not created. Nor do alarms
and the dashboard: tests read them from the template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.aws import ACCOUNT_ID, REGION
from local.template import Tag, TemplateModel, load_template


@dataclass
class Stack:
    """Physical ids of the created resources, by logical id, and intrinsic-function resolution."""

    template: TemplateModel
    parameters: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def create(cls, parameters: dict[str, Any] | None = None, secrets: dict[str, str] | None = None) -> Stack:
        """Build everything in the (already mocked) account; `secrets` gives secret values by logical id."""
        template = TemplateModel(load_template())
        params = {**template.parameter_defaults(), **(parameters or {})}
        stack = cls(template, params)
        stack._create_kms_keys()
        stack._create_secrets(secrets or {})
        stack._create_tables()
        stack._create_queues()
        stack._create_topics()
        stack._create_subscriptions()
        stack._create_log_groups()
        return stack

    # -------------------------------------------------------------- resolution
    def resolve(self, value: Any) -> Any:
        """Resolve !Ref, !GetAtt, !Sub, !If and !FindInMap against the created resources and parameters."""
        if isinstance(value, Tag):
            return self._resolve_tag(value)
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, inner),) = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._resolve_tag(Tag(key.removeprefix("Fn::"), inner))
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _resolve_tag(self, tag: Tag) -> Any:
        if tag.name == "Ref":
            return self._ref(str(tag.value))
        if tag.name == "GetAtt":
            name, attr = tag.value if isinstance(tag.value, list) else str(tag.value).split(".", 1)
            return self.attrs[(name, attr)]
        if tag.name == "Sub":
            text = str(tag.value)
            for key in set(_placeholders(text)):
                if "." in key:
                    name, attr = key.split(".", 1)
                    text = text.replace("${" + key + "}", self.attrs[(name, attr)])
                else:
                    text = text.replace("${" + key + "}", str(self._ref(key)))
            return text
        if tag.name == "If":
            condition, when_true, when_false = tag.value
            return self.resolve(when_true if self._condition(condition) else when_false)
        if tag.name in {"Not", "Equals"}:
            return self._evaluate(tag)
        if tag.name == "FindInMap":
            mapping, top, second = (str(self.resolve(part)) for part in tag.value)
            return self.template.raw["Mappings"][mapping][top][second]
        raise ValueError(f"unsupported intrinsic function {tag.name}")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": "ampeco-bridge-local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.refs[name]

    def _declared(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        """The template's resources of a type that CloudFormation would create with these parameters."""
        return {
            name: res
            for name, res in self.template.of_type(cfn_type).items()
            if "Condition" not in res or self._condition(res["Condition"])
        }

    def _condition(self, name: str) -> bool:
        return bool(self._evaluate(self.template.raw["Conditions"][name]))

    def _evaluate(self, expr: Any) -> Any:
        if isinstance(expr, Tag) and expr.name == "Not":
            return not self._evaluate(expr.value[0])
        if isinstance(expr, Tag) and expr.name == "Equals":
            left, right = (self.resolve(v) for v in expr.value)
            return str(left) == str(right)
        return self.resolve(expr)

    def function_environment(self, function: str) -> dict[str, str]:
        """The function's environment variables as Lambda would see them (Globals merged in)."""
        globals_env = self.template.raw.get("Globals", {}).get("Function", {}).get("Environment", {})
        own_env = self.template.functions()[function]["Properties"].get("Environment", {})
        merged = {**globals_env.get("Variables", {}), **own_env.get("Variables", {})}
        resolved = {key: self.resolve(value) for key, value in merged.items()}
        return {key: str(value) for key, value in resolved.items() if value is not None}

    # -------------------------------------------------------------- creation
    def _create_kms_keys(self) -> None:
        kms = boto3.client("kms", region_name=REGION)
        for name, res in self._declared("AWS::KMS::Key").items():
            kwargs: dict[str, Any] = {"Description": name}
            if "KeyPolicy" in res.get("Properties", {}):
                # Stored as written (moto does not enforce it), so tests can read the conditions back resolved.
                kwargs["Policy"] = json.dumps(self.resolve(res["Properties"]["KeyPolicy"]))
            key = kms.create_key(**kwargs)["KeyMetadata"]
            self.refs[name] = key["KeyId"]
            self.attrs[(name, "Arn")] = key["Arn"]

    def _create_secrets(self, values: dict[str, str]) -> None:
        client = boto3.client("secretsmanager", region_name=REGION)
        for name, res in self._declared("AWS::SecretsManager::Secret").items():
            value = values.get(name) or res["Properties"].get("SecretString") or f"local-{name}"
            arn = client.create_secret(Name=name, SecretString=value)["ARN"]
            # Referenced by name, which GetSecretValue accepts too: moto's ARNs get a random suffix,
            # and a name stays the same when the stack is created again.
            self.refs[name] = name
            self.attrs[(name, "Arn")] = arn

    def _create_tables(self) -> None:
        client = boto3.client("dynamodb", region_name=REGION)
        for name, res in self._declared("AWS::DynamoDB::Table").items():
            props = res["Properties"]
            kwargs: dict[str, Any] = {
                "TableName": name,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if "GlobalSecondaryIndexes" in props:
                kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if "StreamSpecification" in props:
                # CloudFormation has no StreamEnabled; boto3 requires it.
                kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            table = client.create_table(**kwargs)["TableDescription"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
            self.refs[name] = name
            self.attrs[(name, "Arn")] = table["TableArn"]
            if "LatestStreamArn" in table:
                self.attrs[(name, "StreamArn")] = table["LatestStreamArn"]

    def _create_queues(self) -> None:
        client = boto3.client("sqs", region_name=REGION)
        queues = self._declared("AWS::SQS::Queue")
        # Dead-letter queues first: a redrive policy names its target's ARN.
        ordered = sorted(queues, key=lambda n: "RedrivePolicy" in queues[n].get("Properties", {}))
        for name in ordered:
            props = queues[name].get("Properties", {})
            attributes: dict[str, str] = {}
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(self.resolve(props["RedrivePolicy"]))
            for attribute in ("MessageRetentionPeriod", "VisibilityTimeout"):
                if attribute in props:
                    attributes[attribute] = str(props[attribute])
            url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.refs[name] = url
            self.attrs[(name, "Arn")] = arn
            self.attrs[(name, "QueueName")] = name

    def _create_topics(self) -> None:
        client = boto3.client("sns", region_name=REGION)
        for name, res in self._declared("AWS::SNS::Topic").items():
            # The template's own name when it gives one: the key policy names the topics by their ARNs.
            topic_name = str(self.resolve(res.get("Properties", {}).get("TopicName")) or name)
            arn = client.create_topic(Name=topic_name)["TopicArn"]
            self.refs[name] = arn
            self.attrs[(name, "TopicName")] = topic_name

    def _create_subscriptions(self) -> None:
        client = boto3.client("sns", region_name=REGION)
        for name, res in self._declared("AWS::SNS::Subscription").items():
            props = self.resolve(res["Properties"])
            attributes: dict[str, str] = {}
            if props.get("RawMessageDelivery"):
                attributes["RawMessageDelivery"] = "true"
            if "FilterPolicy" in props:
                attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
                attributes["FilterPolicyScope"] = props.get("FilterPolicyScope", "MessageAttributes")
            if "RedrivePolicy" in props:
                # moto keeps it but never redrives: a delivery into a moto queue does not fail.
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            arn = client.subscribe(
                TopicArn=props["TopicArn"],
                Protocol=props["Protocol"],
                Endpoint=props["Endpoint"],
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            self.refs[name] = arn

    def _create_log_groups(self) -> None:
        client = boto3.client("logs", region_name=REGION)
        for name, res in self._declared("AWS::Logs::LogGroup").items():
            props = self.resolve(res.get("Properties", {}))
            group = str(props.get("LogGroupName") or name)
            client.create_log_group(logGroupName=group)
            if "RetentionInDays" in props:
                client.put_retention_policy(logGroupName=group, retentionInDays=int(props["RetentionInDays"]))
            self.refs[name] = group
            self.attrs[(name, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}:*"


def _placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"\$\{([^}!]+)\}", text)
