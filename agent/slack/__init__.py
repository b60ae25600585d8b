"""The Slack bot: `/postmortem draft ...` and @-mentions in incident threads get a cited draft in the thread,
reviewed with buttons. Build it with `agent.slack.app.build(settings, config)`; run it with
`postmortem slack serve`."""
