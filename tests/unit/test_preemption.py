"""A worker that lost its scheduler says so in one line, without a traceback of the closed socket."""

from __future__ import annotations

import logging

from tuner.preemption import HeartbeatWithoutTraceback


def test_heartbeat_failure_is_one_line(caplog):
    log = logging.getLogger("tests.heartbeat")
    log.addFilter(HeartbeatWithoutTraceback())
    with caplog.at_level(logging.INFO, logger="tests.heartbeat"):
        try:
            raise OSError("Stream is closed")
        except OSError:
            log.exception("Failed to communicate with scheduler during heartbeat.")
            log.exception("Unexpected exception during heartbeat. Closing worker.")
    first, other = caplog.records
    assert first.levelname == "WARNING" and first.exc_info is None
    assert first.getMessage() == "Failed to communicate with scheduler during heartbeat (OSError: Stream is closed)"
    assert other.exc_info is not None and other.levelname == "ERROR"  # anything else keeps its traceback
