"""Structured logs: where a command-line tool writes them."""

import threading

from shared.platform import logs


def test_a_command_logs_to_stderr_from_every_thread(monkeypatch, capsys):
    monkeypatch.setattr(logs, "_to_stderr", False)  # restored after the test
    logs.to_stderr()
    worker = threading.Thread(target=lambda: logs.warning("from a worker"))
    worker.start()
    worker.join()
    shown = capsys.readouterr()
    assert shown.out == "" and '"message":"from a worker"' in shown.err
