"""`postmortem receive`'s core: the store and redactor from the settings, the OTLP/HTTP receiver on its port,
served until interrupted, then everything accepted stored (retrieval/otlp_http does the work)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pydantic import SecretStr

from agent.errors import UserError
from agent.settings import Settings
from retrieval.otlp_http.http_server import OtlpReceiver, ReceiverConfig, ReceiverStats

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def receiver_config(settings: Settings, host: str, port: int, token: str | None) -> ReceiverConfig:
    """--token wins over POSTMORTEM_RECEIVER_TOKEN; an empty token is a mistake, not "no token"."""
    if token is not None and not token.strip():
        raise UserError("--token is empty: give a token, or leave the option out")
    secret = SecretStr(token.strip()) if token else settings.receiver_token
    return ReceiverConfig(host=host, port=port, token=secret)


def exposure_warning(config: ReceiverConfig) -> str | None:
    """One line when the receiver listens beyond this machine without a token."""
    if config.host in LOOPBACK or config.token is not None:
        return None
    return (
        f"listening on {config.host} without a token: anyone who reaches this port can write to the store "
        "(set --token or POSTMORTEM_RECEIVER_TOKEN)"
    )


def serve_otlp(
    settings: Settings,
    config: ReceiverConfig,
    on_event: Callable[[str], None],
    on_ready: Callable[[OtlpReceiver], None],
    stop: threading.Event | None = None,
) -> ReceiverStats:
    """Serve until `stop` is set or KeyboardInterrupt (SIGINT, or SIGTERM mapped to it by the caller); then
    stop listening, store everything accepted and return the counts. UserError when the port is taken."""
    from agent.store_factory import make_redactor, open_store

    redactor = make_redactor(settings)
    store = open_store(settings)
    store.on_wait = on_event
    receiver = OtlpReceiver(store, redactor, config, on_event)
    try:
        try:
            receiver.start()
        except OSError as exc:
            raise UserError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc})") from None
        on_ready(receiver)
        stop = stop or threading.Event()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        return receiver.stop()
    finally:
        receiver.writer.close()
        store.close()
