"""CloudWatch Logs, for the maintenance audit: append a line to a group's stream, creating the
stream the first time this container writes to it. PutLogEvents needs no sequence token any more,
so concurrent writers share a stream safely."""

from __future__ import annotations

import contextlib
import time

from g3n_ops.aws import client

_known_streams: set[tuple[str, str]] = set()


def append(group: str, stream: str, line: str) -> None:
    logs = client("logs")
    event = {"timestamp": int(time.time() * 1000), "message": line}
    if (group, stream) not in _known_streams:
        # Another writer may have created the stream first: that is fine.
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        _known_streams.add((group, stream))
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[event])


def forget(group: str, stream: str) -> None:
    """The stream vanished (or was never there): the next append creates it again."""
    _known_streams.discard((group, stream))
