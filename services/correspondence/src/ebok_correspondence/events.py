"""Events correspondence publishes (built here, validated against the catalogue) and consumes."""

from ebok_shared.bus import Subscription

# One line per consumed event: Subscription("<producer>.<entity>.<fact>", handler).
SUBSCRIPTIONS: list[Subscription] = []
