"""The wire contract between kiosks and the server (docs/protocol.md).

Import from here: topics, messages, the codec and the one error type, :class:`WireError`.
"""

from lockers.wire import messages, topics
from lockers.wire.codec import channel_of, decode, decode_topic, encode
from lockers.wire.errors import WireError
from lockers.wire.messages import *  # noqa: F403
from lockers.wire.topics import CHANNELS, PROTOCOL_VERSION, Channel, parse, topic

__all__ = [
    "CHANNELS", "PROTOCOL_VERSION", "Channel", "WireError", "channel_of", "decode",
    "decode_topic", "encode", "messages", "parse", "topic", "topics",
]
__all__ += [name for name in dir(messages) if not name.startswith("_")
            and getattr(getattr(messages, name), "__module__", "") == messages.__name__]
