"""CLI area: slack. `postmortem slack serve | config | manifest`: run the Slack bot, check who may use it for
which services, and print the app manifest to create it in Slack."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from agent.cli.common import console, err_console, print_json
from agent.errors import Failure, UserError

slack_app = typer.Typer(
    help=(
        "Run the Slack bot: `/postmortem draft ...` or an @-mention in an incident thread gets a cited draft "
        "in the thread, with Approve / Regenerate / Reject buttons."
    ),
    no_args_is_help=True,
)

CONFIG_HELP = "Channel -> services config (default: $POSTMORTEM_HOME/slack.yaml)."
EXAMPLE = """\
# Which channels the bot answers in, and which services each may draft about. Channel ids, not names:
# open the channel, click its name, the id (C...) is at the bottom of the About tab.
channels:
  C0123ABCD:
    services: [support-assistant]      # ["*"] = every service
  C0456EFGH:
    services: [search-api, checkout]
    users: [U0AAAA1111]                # optional: only these people, in this channel
allowed_users: []                      # optional: only these people, anywhere (empty: anyone in a listed channel)
review: true                           # Approve / Regenerate / Reject buttons under each draft
provider: null                         # LLM provider for Slack drafts (default: POSTMORTEM_PROVIDER)
"""


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""
    app.add_typer(slack_app, name="slack")


def _config(path: Path | None):
    from agent.settings import get_settings
    from agent.slack.config import ConfigError, config_path, load_config

    chosen = path or config_path(get_settings().home)
    try:
        return chosen, load_config(chosen)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


@slack_app.command("serve")
def serve_command(
    port: Annotated[int, typer.Option(min=0, max=65535, help="HTTP port for Slack's requests.")] = 3000,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0 to accept from other hosts).")
    ] = "127.0.0.1",
    socket: Annotated[
        bool,
        typer.Option(
            "--socket", help="Socket Mode: connect out to Slack (needs SLACK_APP_TOKEN), no public URL."
        ),
    ] = False,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request.")] = False,
) -> None:
    """Run the bot: HTTP on --port at /slack/events (needs SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET) or --socket."""
    from agent.settings import get_settings
    from agent.slack.app import SlackSetupError, SlackUnreachable, build
    from agent.slack.logs import configure as configure_logging
    from agent.slack.server import SlackHTTPServer, serve_socket

    configure_logging(verbose)
    settings = get_settings()
    path, rules = _config(config)
    try:
        slack = build(settings, rules, socket=socket)
    except SlackUnreachable as exc:
        raise Failure(str(exc)) from None
    except SlackSetupError as exc:
        raise UserError(f"{exc} (`postmortem doctor` checks the Slack settings)") from None
    err_console.print("opening the store and the embedder…", highlight=False)
    opened: list[BaseException] = []

    def warm() -> None:
        try:
            slack.bot.store(None)
        except Exception as exc:  # noqa: BLE001 - reported below
            opened.append(exc)

    slack.bot.runner.submit("open store", warm)
    slack.bot.runner.wait_idle()
    if opened:
        slack.close()
        raise Failure(f"the store cannot be opened: {opened[0]}")
    summary = f"{len(rules.channels)} channel(s) from {path}"
    stop_on_signals()
    try:
        if socket:
            err_console.print(
                f"Socket Mode: connecting to Slack · {summary} · Ctrl-C to stop", highlight=False
            )
            token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
            serve_socket(slack.app, token)
        else:
            try:
                secret = settings.slack_signing_secret
                server = SlackHTTPServer(
                    slack.app,
                    signing_secret=secret.get_secret_value() if secret else "",
                    host=host,
                    port=port,
                )
            except OSError as exc:
                raise Failure(
                    f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port"
                ) from None
            err_console.print(
                f"listening on {server.url} · {summary} · Ctrl-C to stop", highlight=False, soft_wrap=True
            )
            try:
                server.serve_forever()
            finally:
                server.shutdown()
    except KeyboardInterrupt:
        err_console.print(
            "stopping: finishing the drafts under way… (Ctrl-C or SIGTERM again to stop at once)",
            highlight=False,
        )
    finally:
        close_or_abandon(slack)


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM (docker stop, systemd, Kubernetes) both stop the bot gracefully, also when the
    parent started it with SIGINT ignored (a background job of a non-interactive shell)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)


def close_or_abandon(slack: Any, timeout: float = 300) -> None:
    """Let the drafts under way finish; a second Ctrl-C stops at once (exit 130), abandoning them."""
    try:
        slack.close(timeout=timeout)
    except KeyboardInterrupt:
        err_console.print("stopped without waiting: the drafts under way were abandoned", highlight=False)
        raise typer.Exit(130) from None


@slack_app.command("config")
def config_command(
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    example: Annotated[
        bool, typer.Option("--example", help="Print a commented template to start from.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the parsed config as JSON.")] = False,
) -> None:
    """Check the channel -> services config and show who may draft about what (exit 2 if it is wrong)."""
    if example:
        sys.stdout.write(EXAMPLE)
        return
    path, rules = _config(config)
    if json_output:
        print_json({"path": str(path), **rules.model_dump(mode="json")})
        return
    console.print(
        f"{path}: {len(rules.channels)} channel(s), review buttons {'on' if rules.review else 'off'}",
        highlight=False,
    )
    for channel, rule in rules.channels.items():
        users = rule.users if rule.users is not None else rules.allowed_users
        who = ", ".join(users) if users else "anyone in the channel"
        console.print(f"  {channel}: {', '.join(rule.services)} · {who}", highlight=False, markup=False)


@slack_app.command("manifest")
def manifest_command(
    url: Annotated[
        str, typer.Option(help="Public HTTPS URL Slack will call, ending in /slack/events.")
    ] = "https://example.com/slack/events",
    socket: Annotated[bool, typer.Option("--socket", help="A Socket Mode app (no request URL).")] = False,
    name: Annotated[str, typer.Option(help="The app's name in Slack.")] = "postmortem",
) -> None:
    """Print a Slack app manifest (api.slack.com/apps > Create New App > From a manifest)."""
    if not socket and not url.startswith("https://"):
        raise UserError(f"--url {url!r}: Slack only calls https:// URLs (use --socket for a bot without one)")
    settings: dict = {
        "org_deploy_enabled": False,
        "socket_mode_enabled": socket,
        "token_rotation_enabled": False,
    }
    events: dict = {"bot_events": ["app_mention"]}
    interactivity: dict = {"is_enabled": True}
    command = {
        "command": "/postmortem",
        "description": "Draft a cited post-mortem",
        "usage_hint": "draft <title> [--since 6h] [--service NAME]",
    }
    if not socket:
        events["request_url"] = url
        interactivity["request_url"] = url
        command["url"] = url
    manifest = {
        "display_information": {
            "name": name,
            "description": "Drafts evidence-cited post-mortems for AI incidents",
        },
        "features": {"bot_user": {"display_name": name, "always_online": True}, "slash_commands": [command]},
        "oauth_config": {
            "scopes": {
                "bot": [
                    "app_mentions:read",
                    "channels:history",
                    "groups:history",
                    "chat:write",
                    "commands",
                    "files:write",
                ]
            }
        },
        "settings": {"event_subscriptions": events, "interactivity": interactivity, **settings},
    }
    sys.stdout.write(yaml.safe_dump(manifest, sort_keys=False))
