"""Log lines are formatted and written by a thread of their own, and none is lost at a clean
exit: what was logged before the stop is on stderr, whole, as JSON."""

from __future__ import annotations

import logging
import logging.handlers
import threading

import orjson
import pytest

from obliviate.http import logging as obliviate_logging


def test_lines_logged_from_many_threads_are_all_written_whole(
    capfd: pytest.CaptureFixture[str],
) -> None:
    obliviate_logging.configure_logging("INFO")
    log = logging.getLogger("obliviate.access")

    def burst(n: int) -> None:
        for k in range(200):
            log.info("request", extra={"request_id": f"r{n}-{k}", "status": 200})

    handler = logging.getLogger("obliviate").handlers[0]
    assert isinstance(handler, logging.handlers.QueueHandler)
    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        obliviate_logging._stop_listener()
        logging.getLogger("obliviate").handlers[:] = []
    lines = [orjson.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert sorted(line["request_id"] for line in lines) == sorted(
        f"r{n}-{k}" for n in range(4) for k in range(200)
    )
    assert {line["status"] for line in lines} == {200}
    assert {line["logger"] for line in lines} == {"obliviate.access"}


def test_formatting_happens_off_the_logging_thread(capfd: pytest.CaptureFixture[str]) -> None:
    obliviate_logging.configure_logging("INFO")
    formatted_on: list[int] = []
    original = obliviate_logging.JsonFormatter.format

    def spy(self: obliviate_logging.JsonFormatter, record: logging.LogRecord) -> str:
        formatted_on.append(threading.get_ident())
        return original(self, record)

    obliviate_logging.JsonFormatter.format = spy  # type: ignore[method-assign]
    try:
        logging.getLogger("obliviate.access").info("request", extra={"status": 204})
    finally:
        obliviate_logging._stop_listener()
        obliviate_logging.JsonFormatter.format = original  # type: ignore[method-assign]
        logging.getLogger("obliviate").handlers[:] = []
    assert formatted_on
    assert threading.get_ident() not in formatted_on
    assert orjson.loads(capfd.readouterr().err.strip())["status"] == 204
