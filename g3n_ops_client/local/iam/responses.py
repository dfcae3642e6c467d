"""AWS's answer to a request IAM refused, in the request's protocol: ``AccessDenied`` /
``AccessDeniedException`` / ``AuthorizationError`` with the principal, action and resource in the
message, as each service sends it."""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

from g3n_ops_client.local.iam.requests import service_model


def access_denied(service: str, message: str) -> tuple[int, dict, bytes]:
    protocol = (
        service_model(service).metadata.get("protocol", "json") if service != "execute-api" else "rest-json"
    )
    request_id = str(uuid.uuid4())
    if protocol == "json":
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "message": message})
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "x-amzn-errortype": "AccessDeniedException",
            "x-amzn-requestid": request_id,
        }
        return 400, headers, body.encode()
    if protocol == "rest-json":
        body = json.dumps({"Type": "User", "message": message})
        headers = {
            "content-type": "application/json",
            "x-amzn-errortype": "AccessDeniedException",
            "x-amzn-requestid": request_id,
        }
        return 403, headers, body.encode()
    if protocol == "rest-xml":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return 403, {"content-type": "application/xml"}, body.encode()
    code = "AuthorizationError" if service == "sns" else "AccessDenied"
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}"
        f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return 403, {"content-type": "text/xml"}, body.encode()
