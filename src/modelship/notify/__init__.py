"""Release notifications: `notify:` in modelship.yaml -> Slack, Microsoft Teams or a generic
JSON webhook, one message per release event (started, step-passed, paused, promoted, aborted,
rolled-back).

    settings   the `notify:` entries, checked (exit 2 naming the key)
    messages   an event -> each kind's JSON body (pure)
    send       one POST: short timeout, one retry, failures described without the URL
    notifier   the events to the webhooks that want them; URLs masked, failures warnings

The release verbs build the events (modelship.release.notices).
"""

from modelship.notify.messages import Event, Release
from modelship.notify.notifier import Notifier, from_config

__all__ = ["Event", "Notifier", "Release", "from_config"]
