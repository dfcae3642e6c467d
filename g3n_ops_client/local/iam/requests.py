"""What IAM checks one AWS request needs: the request as it reaches the local endpoint (method,
path, query, headers, body) → its operation (botocore's service model: the X-Amz-Target of the
JSON protocols, the Action of the query protocol, the HTTP binding of the REST ones) → the
(action, resource ARN, condition keys) triples AWS authorises it by.

The action is not always the operation's name: ``DeleteObjects`` needs ``s3:DeleteObject`` for
every key (and ``s3:DeleteObjectVersion`` for every key named with a version),
``ListObjectVersions`` is ``s3:ListBucketVersions``; a ``TransactWriteItems`` is authorised by
its parts (``dynamodb:PutItem``/``UpdateItem``/``DeleteItem``/``ConditionCheckItem`` on each
part's table, each with its own ``dynamodb:LeadingKeys``), a ``BatchWriteItem`` by
``dynamodb:BatchWriteItem`` on each table with all of that table's keys.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qs, unquote

import botocore.loaders
import botocore.model

# SigV4 credential scope's service → IAM's service prefix (where they differ) and botocore's name.
IAM_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
BOTOCORE_NAME = {"states": "stepfunctions", "monitoring": "cloudwatch", "email": "ses"}
# Operations AWS authorises without any permission.
UNAUTHORISED_OPERATIONS = {("sts", "GetCallerIdentity")}


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class ParsedRequest:
    service: str  # the signing name (credential scope)
    operation: str
    params: dict
    path_params: dict


@lru_cache(maxsize=32)
def service_model(service: str) -> botocore.model.ServiceModel:
    """The botocore model of a service, by its signing name, as published: read by a loader of
    its own, since clients rewrite the models they load (an S3 client drops ``/{Bucket}`` from
    its request URIs) and the local stack's sessions share theirs."""
    name = BOTOCORE_NAME.get(service, service)
    return botocore.model.ServiceModel(_published_models().load_service_model(name, "service-2"), name)


@lru_cache(maxsize=1)
def _published_models() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@lru_cache(maxsize=32)
def _rest_routes(service: str) -> list[tuple[int, str, re.Pattern, frozenset, str]]:
    """(specificity, method, path regex, required query keys, operation) for a REST service."""
    model = service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri, _, query = http["requestUri"].partition("?")
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        regex = "^" + re.sub(
            r"\{([^}+]+)(\+?)\}",
            lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)",
            re.escape(uri).replace(r"\{", "{").replace(r"\}", "}").replace(r"\+", "+"),
        )
        regex += "/?$"
        required = frozenset(part.split("=", 1)[0] for part in query.split("&") if part)
        routes.append((literal + 100 * len(required), http["method"], re.compile(regex), required, name))
    routes.sort(key=lambda route: -route[0])
    return routes


def signing_service(headers: dict, query: dict) -> str | None:
    authorization = headers.get("authorization", "")
    credential = re.search(r"Credential=([^,\s]+)", authorization)
    scope = credential.group(1) if credential else (query.get("X-Amz-Credential") or [""])[0]
    parts = scope.split("/")
    return parts[3] if len(parts) >= 5 else None


def parse(method: str, path: str, query_string: str, headers: dict, body: bytes) -> ParsedRequest | None:
    query = parse_qs(query_string, keep_blank_values=True)
    service = signing_service(headers, query)
    if service is None:
        return None
    target = headers.get("x-amz-target")
    if target:  # JSON protocols: DynamoDB_20120810.GetItem, AWSStepFunctions.StartExecution, ...
        params = json.loads(body or b"{}")
        return ParsedRequest(service, target.rpartition(".")[2], params, {})
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):  # query protocol
        form = {key: values[0] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}
        return ParsedRequest(service, form.pop("Action", ""), form, {})
    path = unquote(path)
    for _, verb, regex, required, name in _rest_routes(service):
        if verb == method and required <= query.keys() and (found := regex.match(path)):
            params = {key: values[0] for key, values in query.items()}
            params["_body"] = body
            return ParsedRequest(service, name, params, found.groupdict())
    return ParsedRequest(service, f"{method} {path}", {}, {})


class Mapper:
    """Turns parsed requests into checks. ``key_schema(table)`` gives a DynamoDB table's (or
    ``table/index/name``'s) partition key attribute, for ``dynamodb:LeadingKeys``."""

    def __init__(self, *, account: str, region: str, key_schema: Callable[[str, str | None], str | None]):
        self.account, self.region = account, region
        self.key_schema = key_schema

    def checks(self, request: ParsedRequest) -> list[Check]:
        if (request.service, request.operation) in UNAUTHORISED_OPERATIONS:
            return []
        special = getattr(self, f"_{request.service.replace('-', '_')}", None)
        if special is not None:
            found = special(request)
            if found is not None:
                return found
        prefix = IAM_PREFIX.get(request.service, request.service)
        return [Check(f"{prefix}:{request.operation}", "*")]

    # -- DynamoDB --------------------------------------------------------------------------------
    def table_arn(self, table: str) -> str:
        if table.startswith("arn:"):
            return table
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{table}"

    def _leading_key(self, table: str, index: str | None, item: dict) -> list[str]:
        attribute = self.key_schema(table, index)
        value = (item or {}).get(attribute or "", {})
        return [next(iter(value.values()))] if value else []

    def _dynamodb(self, request: ParsedRequest) -> list[Check] | None:
        op, params = request.operation, request.params

        def item_check(action: str, body: dict, key_field: str = "Key") -> Check:
            table = body["TableName"]
            keys = self._leading_key(table, None, body.get(key_field) or body.get("Item"))
            return Check(f"dynamodb:{action}", self.table_arn(table), {"dynamodb:LeadingKeys": keys})

        if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            return [item_check(op, params)]
        if op == "TransactWriteItems":
            parts = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}  # fmt: skip
            return [
                item_check(parts[kind], body)
                for entry in params["TransactItems"]
                for kind, body in entry.items()
            ]
        if op == "TransactGetItems":
            return [item_check("GetItem", entry["Get"]) for entry in params["TransactItems"]]
        if op in ("BatchWriteItem", "BatchGetItem"):
            found = []
            for table, entries in params["RequestItems"].items():
                if op == "BatchWriteItem":
                    items = [
                        e.get("PutRequest", {}).get("Item") or e.get("DeleteRequest", {}).get("Key")
                        for e in entries
                    ]
                else:
                    items = entries.get("Keys", [])
                keys = sorted({key for item in items for key in self._leading_key(table, None, item)})
                found.append(Check(f"dynamodb:{op}", self.table_arn(table), {"dynamodb:LeadingKeys": keys}))
            return found
        if op in ("Query", "Scan"):
            table, index = params["TableName"], params.get("IndexName")
            resource = self.table_arn(table) + (f"/index/{index}" if index else "")
            context = {}
            if op == "Query":
                context["dynamodb:LeadingKeys"] = self._query_leading_key(table, index, params)
            return [Check(f"dynamodb:{op}", resource, context)]
        if "TableName" in params:
            return [Check(f"dynamodb:{op}", self.table_arn(params["TableName"]))]
        return None

    def _query_leading_key(self, table: str, index: str | None, params: dict) -> list[str]:
        attribute = self.key_schema(table, index)
        values = params.get("ExpressionAttributeValues", {})
        if "KeyConditions" in params:
            condition = params["KeyConditions"].get(attribute or "", {})
            return [next(iter(v.values())) for v in condition.get("AttributeValueList", [])[:1]]
        names = params.get("ExpressionAttributeNames", {})
        for clause in re.split(r"\s+AND\s+", params.get("KeyConditionExpression", ""), flags=re.IGNORECASE):
            found = re.fullmatch(r"\s*\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?\s*", clause)
            if found and names.get(found.group(1), found.group(1)) == attribute:
                return [next(iter(values[found.group(2)].values()))]
        return []

    # -- Step Functions, CloudWatch Logs, SSM, SNS, Lambda ---------------------------------------
    def _states(self, request: ParsedRequest) -> list[Check] | None:
        params = request.params
        resource = params.get("executionArn") or params.get("stateMachineArn") or "*"
        return [Check(f"states:{request.operation}", resource)]

    def _logs(self, request: ParsedRequest) -> list[Check] | None:
        params = request.params
        group = params.get("logGroupName")
        if not group:
            return None
        at = f"arn:aws:logs:{self.region}:{self.account}:log-group:{group}"
        stream = params.get("logStreamName")
        resource = f"{at}:log-stream:{stream}" if stream else f"{at}:*"
        return [Check(f"logs:{request.operation}", resource)]

    def _ssm(self, request: ParsedRequest) -> list[Check] | None:
        params = request.params
        names = params.get("Names") or ([params["Name"]] if "Name" in params else [])
        if "Path" in params:
            names = [params["Path"]]
        if not names:
            return None
        return [Check(f"ssm:{request.operation}", self.parameter_arn(name)) for name in names]

    def parameter_arn(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:aws:ssm:{self.region}:{self.account}:parameter/{name.lstrip('/')}"

    def _sns(self, request: ParsedRequest) -> list[Check] | None:
        resource = request.params.get("TopicArn") or request.params.get("TargetArn")
        return [Check(f"sns:{request.operation}", resource)] if resource else None

    def _lambda(self, request: ParsedRequest) -> list[Check] | None:
        name = request.path_params.get("FunctionName")
        if not name:
            return None
        arn = (
            name
            if name.startswith("arn:")
            else f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        )
        qualifier = request.params.get("Qualifier")
        if qualifier and arn.count(":") == 6:
            arn += f":{qualifier}"
        action = "InvokeFunction" if request.operation == "Invoke" else request.operation
        return [Check(f"lambda:{action}", arn)]

    # -- S3 --------------------------------------------------------------------------------------
    S3_ACTIONS = {
        "ListObjectVersions": ("ListBucketVersions", "bucket"),
        "ListObjects": ("ListBucket", "bucket"),
        "ListObjectsV2": ("ListBucket", "bucket"),
        "HeadBucket": ("ListBucket", "bucket"),
        "ListMultipartUploads": ("ListBucketMultipartUploads", "bucket"),
        "GetObject": ("GetObject", "object"),
        "HeadObject": ("GetObject", "object"),
        "PutObject": ("PutObject", "object"),
        "AbortMultipartUpload": ("AbortMultipartUpload", "object"),
        "CreateMultipartUpload": ("PutObject", "object"),
        "UploadPart": ("PutObject", "object"),
        "CompleteMultipartUpload": ("PutObject", "object"),
        "GetBucketVersioning": ("GetBucketVersioning", "bucket"),
        "PutBucketVersioning": ("PutBucketVersioning", "bucket"),
        "CreateBucket": ("CreateBucket", "bucket"),
        "DeleteBucket": ("DeleteBucket", "bucket"),
    }

    def _s3(self, request: ParsedRequest) -> list[Check] | None:
        bucket = request.path_params.get("Bucket")
        if not bucket:
            return [Check("s3:ListAllMyBuckets", "*")] if request.operation == "ListBuckets" else None
        key = request.path_params.get("Key")
        if request.operation == "DeleteObjects":
            return self._delete_objects(bucket, request.params.get("_body", b""))
        if request.operation == "DeleteObject":
            version = request.params.get("versionId")
            return [
                Check(
                    "s3:DeleteObjectVersion" if version else "s3:DeleteObject", f"arn:aws:s3:::{bucket}/{key}"
                )
            ]
        action, level = self.S3_ACTIONS.get(request.operation, (request.operation, "bucket"))
        resource = f"arn:aws:s3:::{bucket}/{key}" if level == "object" and key else f"arn:aws:s3:::{bucket}"
        return [Check(f"s3:{action}", resource)]

    @staticmethod
    def _delete_objects(bucket: str, body: bytes) -> list[Check]:
        checks = []
        for element in ElementTree.fromstring(body or b"<Delete/>").iter():
            if element.tag.rpartition("}")[2] != "Object":
                continue
            fields = {child.tag.rpartition("}")[2]: child.text for child in element}
            resource = f"arn:aws:s3:::{bucket}/{fields.get('Key', '')}"
            checks.append(Check("s3:DeleteObject", resource))
            if fields.get("VersionId"):
                checks.append(Check("s3:DeleteObjectVersion", resource))
        return checks
