"""The reconciler's progress, one item per kind in the reconcile table; every save is conditional."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bridge.models.common import iso_instant
from bridge.reconcile import Kind, Progress, ProgressConflict
from bridge.storage.dynamo import Table, error_code, storage_errors

_TIMES = {"watermark": "watermark", "runFrom": "run_from", "runUntil": "run_until"}


class ProgressTable(Table):
    def load(self, kind: Kind) -> Progress:
        """The stored progress (read consistently: the last run may have saved a moment ago)."""
        with storage_errors():
            item = self.client.get_item(
                TableName=self._table, Key={"name": {"S": kind.value}}, ConsistentRead=True
            ).get("Item")
        if not item:
            return Progress()
        times = {field: datetime.fromisoformat(item[attr]["S"]) for attr, field in _TIMES.items() if attr in item}
        return Progress(**times, cursor=item.get("cursor", {}).get("S"), version=int(item["version"]["N"]))

    def save(self, kind: Kind, progress: Progress) -> Progress:
        from botocore.exceptions import ClientError

        saved = Progress(
            watermark=progress.watermark,
            run_from=progress.run_from,
            run_until=progress.run_until,
            cursor=progress.cursor,
            version=progress.version + 1,
        )
        item: dict[str, Any] = {"name": {"S": kind.value}, "version": {"N": str(saved.version)}}
        for attr, field in _TIMES.items():
            value = getattr(saved, field)
            if value is not None:
                item[attr] = {"S": iso_instant(value)}
        if saved.cursor:
            item["cursor"] = {"S": saved.cursor}
        request: dict[str, Any] = {"TableName": self._table, "Item": item}
        if progress.version == 0:
            request |= {"ConditionExpression": "attribute_not_exists(#n)", "ExpressionAttributeNames": {"#n": "name"}}
        else:
            request |= {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(progress.version)}},
            }
        with storage_errors():
            try:
                self.client.put_item(**request)
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise ProgressConflict(kind.value) from exc
                raise
        return saved
