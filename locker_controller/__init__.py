"""The kiosk's brain: slot state machine, local decisions from the policy replica, durable
outbox and the MQTT link. Public API for the screen: :mod:`locker_controller.api`."""
